//! Log compaction: a prefix of closed segments whose writes are all older than the retention
//! window is folded into one base segment holding what it amounts to: the databases, schemas
//! and items still alive (their CREATE records, in id order) and each table's consolidated
//! contents as of the last folded write. A table updated in place then costs its size, not its
//! history. Writes inside the window stay as they are, so `AS OF` can still reach them after a
//! restart. A stream's appends (an `APPEND ONLY` table's rows) are its only copy and fold to
//! nothing smaller: they are copied as they are into an appends file beside the base, written
//! once (a compaction never reads an earlier one), one folded segment in memory at a time.
//!
//! The base is written to a temporary file, fsynced, and renamed over the last folded segment;
//! only then are the earlier folded segments removed. A crash at any point leaves either the
//! old segments, or the base and (until the next open removes them) stale segments before it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Mutex};
use std::time::Duration;

use super::log::{self, LogError, BASE_MAGIC};
use super::{LogRecord, TableStore};
use crate::repr::{GlobalId, Timestamp};

/// The rows of a table are written in records of at most about this size.
const ROWS_PER_RECORD_BYTES: usize = 16 << 20;

/// What one compaction did.
#[derive(Debug, PartialEq)]
pub struct Compacted {
    pub segments: usize,
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// The compactor thread: whenever a segment closes (and every `every`) folds what is older
/// than `frontier()`, until the log is closed.
pub(super) fn run(
    dir: &Path,
    frontier: impl Fn() -> Timestamp,
    files: &Mutex<()>,
    closed: mpsc::Receiver<()>,
    every: Duration,
) {
    loop {
        match closed.recv_timeout(every) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        let frontier = frontier();
        match compact(dir, frontier, files) {
            Ok(Some(c)) => tracing::info!(
                "compacted the log: {} segments of {} bytes folded into a base of {} bytes (writes up to {frontier})",
                c.segments,
                c.bytes_before,
                c.bytes_after
            ),
            Ok(None) => {}
            // Nothing is lost: the old segments stay until a compaction succeeds.
            Err(e) => tracing::warn!("log compaction failed, will retry: {e}"),
        }
    }
}

/// Folds the longest prefix of closed segments whose writes are all at or before `frontier`
/// into a base segment, swapping the files while holding `files`. Returns what was done, if
/// anything.
pub fn compact(
    dir: &Path,
    frontier: Timestamp,
    files: &Mutex<()>,
) -> Result<Option<Compacted>, LogError> {
    let segments = log::live_segments(dir, false)?;
    let Some((_active, closed)) = segments.split_last() else {
        return Ok(None);
    };
    let mut fold = Fold::default();
    let mut folded: Vec<&PathBuf> = Vec::new();
    // The folded segments holding appends: read again to copy them (one at a time in memory).
    let mut with_appends: Vec<&PathBuf> = Vec::new();
    for path in closed {
        let (payloads, _) = log::read_segment(path, false, false)?;
        let corrupt = |what: String| LogError::Corrupt {
            file: path.clone(),
            offset: 0,
            what: format!("an undecodable record: {what}"),
        };
        let mut records = Vec::with_capacity(payloads.len());
        let mut appends = Vec::new();
        let mut latest: Option<Timestamp> = None;
        for p in &payloads {
            if LogRecord::is_append(p) {
                // Its rows are copied, not folded: only its time and a source's progress are.
                let header =
                    LogRecord::append_header(p).ok_or_else(|| corrupt("an append".into()))?;
                latest = latest.max(Some(header.time));
                appends.push(header);
                continue;
            }
            let record = LogRecord::decode(p).map_err(corrupt)?;
            if let LogRecord::Write { time, .. } | LogRecord::Ingest { time, .. } = &record {
                latest = latest.max(Some(*time));
            }
            records.push(record);
        }
        if latest.is_some_and(|t| t > frontier) {
            break;
        }
        if !appends.is_empty() {
            with_appends.push(path);
        }
        for a in appends {
            if let Some(p) = a.progress {
                fold.progress(a.time, a.table, p.offsets, p.errors);
            }
        }
        for r in records {
            fold.apply(r);
        }
        folded.push(path);
    }
    // One segment that is already a base has nothing to fold.
    let Some(last) = folded.last() else {
        return Ok(None);
    };
    if folded.len() == 1 && is_base(last)? {
        return Ok(None);
    }
    let bytes_before = folded
        .iter()
        .map(|p| fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e| LogError::Io(p, e)
    };
    // The live streams' appends, copied into the appends file of this base.
    let live = fold.items.keys().copied().collect::<BTreeSet<_>>();
    let index = log::segment_index(last).unwrap_or(0);
    let appends = dir.join(log::appends_name(index));
    let appends_tmp = appends.with_extension("appends.tmp");
    let mut out = Framed::create(&appends_tmp).map_err(io(&appends_tmp))?;
    for path in with_appends {
        let (payloads, _) = log::read_segment(path, false, false)?;
        for p in &payloads {
            if LogRecord::append_header(p).is_some_and(|h| live.contains(&h.table)) {
                out.put(p, true).map_err(io(&appends_tmp))?;
            }
        }
    }
    let appended = out.bytes;
    out.finish().map_err(io(&appends_tmp))?;
    // The base: the catalog, the tables' contents, the sources' offsets.
    let tmp = last.with_extension("seg.tmp");
    let mut base = Framed::create(&tmp).map_err(io(&tmp))?;
    base.put(BASE_MAGIC, false).map_err(io(&tmp))?;
    for record in fold.into_records() {
        base.put(&record.encode(), true).map_err(io(&tmp))?;
    }
    let bytes_after = base.bytes + appended;
    base.finish().map_err(io(&tmp))?;
    // The appends file is valid once the base is in place (a crash between the two leaves an
    // appends file newer than any base, which the next open removes).
    let _files = files.lock().unwrap_or_else(|p| p.into_inner());
    if appended > 0 {
        fs::rename(&appends_tmp, &appends).map_err(io(&appends))?;
    } else {
        fs::remove_file(&appends_tmp).map_err(io(&appends_tmp))?;
    }
    fs::rename(&tmp, last).map_err(io(last))?;
    log::sync_dir(dir)?;
    for stale in &folded[..folded.len() - 1] {
        fs::remove_file(stale).map_err(io(stale))?;
    }
    log::sync_dir(dir)?;
    Ok(Some(Compacted {
        segments: folded.len(),
        bytes_before,
        bytes_after,
    }))
}

/// A file of records being written (a base, or an appends file).
struct Framed {
    out: BufWriter<File>,
    bytes: u64,
    frame: Vec<u8>,
}

impl Framed {
    fn create(path: &Path) -> std::io::Result<Framed> {
        Ok(Framed {
            out: BufWriter::new(File::create(path)?),
            bytes: 0,
            frame: Vec::new(),
        })
    }

    /// Flushes and fsyncs the file.
    fn finish(self) -> std::io::Result<()> {
        self.out
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_all())
    }

    /// Writes `bytes`, framed as a record or (the magic) as they are.
    fn put(&mut self, bytes: &[u8], framed: bool) -> std::io::Result<()> {
        self.frame.clear();
        if framed {
            log::frame(bytes, &mut self.frame);
        } else {
            self.frame.extend_from_slice(bytes);
        }
        self.bytes += self.frame.len() as u64;
        self.out.write_all(&self.frame)
    }
}

fn is_base(path: &Path) -> Result<bool, LogError> {
    let data = fs::read(path).map_err(|e| LogError::Io(path.to_path_buf(), e))?;
    Ok(data.starts_with(BASE_MAGIC))
}

/// The state a prefix of the log amounts to.
#[derive(Default)]
struct Fold {
    databases: BTreeSet<String>,
    schemas: BTreeSet<(String, String)>,
    items: BTreeMap<GlobalId, LogRecord>,
    tables: TableStore,
    /// Each source's offsets as of its last folded ingest.
    offsets: BTreeMap<GlobalId, crate::source::Offsets>,
    /// Each source's latest undecodable records (at most `source::ERRORS_KEPT`).
    errors: BTreeMap<GlobalId, Vec<crate::source::RecordError>>,
    /// The time of the last write folded: the base's contents are as of then.
    time: Timestamp,
    next_id: u64,
}

impl Fold {
    fn apply(&mut self, record: LogRecord) {
        match record {
            LogRecord::CreateItem { id, .. } => {
                self.next_id = self.next_id.max(id.0 + 1);
                self.items.insert(id, record);
            }
            LogRecord::DropItems { ids } => {
                for id in ids {
                    self.items.remove(&id);
                    self.tables.drop_table(id);
                    self.offsets.remove(&id);
                    self.errors.remove(&id);
                }
            }
            LogRecord::CreateDatabase { name } => {
                self.databases.insert(name);
            }
            LogRecord::DropDatabase { name } => {
                self.schemas.retain(|(db, _)| *db != name);
                self.databases.remove(&name);
            }
            LogRecord::CreateSchema { database, name } => {
                self.schemas.insert((database, name));
            }
            LogRecord::Write {
                time,
                table,
                updates,
            } => {
                self.tables.apply(table, &updates);
                self.time = self.time.max(time);
            }
            LogRecord::Ingest {
                time,
                source,
                updates,
                offsets,
                errors,
            } => {
                self.tables.apply(source, &updates);
                self.progress(time, source, offsets, errors);
            }
            LogRecord::NextId { id } => self.next_id = self.next_id.max(id.0),
            // Rows copied as they are (see `compact`).
            LogRecord::Append {
                time,
                table,
                progress,
                ..
            } => match progress {
                Some(p) => self.progress(time, table, p.offsets, p.errors),
                None => self.time = self.time.max(time),
            },
        }
    }

    /// A source read up to `offsets` at `time`, failing to decode `errors`.
    fn progress(
        &mut self,
        time: Timestamp,
        source: GlobalId,
        offsets: crate::source::Offsets,
        errors: Vec<crate::source::RecordError>,
    ) {
        self.offsets.insert(source, offsets);
        if !errors.is_empty() {
            let kept = self.errors.entry(source).or_default();
            kept.extend(errors);
            let excess = kept.len().saturating_sub(crate::source::ERRORS_KEPT);
            kept.drain(..excess);
        }
        self.time = self.time.max(time);
    }

    /// The records that rebuild this state: the catalog first (items in creation order, so
    /// each finds what it depends on), then the tables' contents.
    fn into_records(mut self) -> Vec<LogRecord> {
        let mut out: Vec<LogRecord> = Vec::new();
        out.extend(
            self.databases
                .into_iter()
                .map(|name| LogRecord::CreateDatabase { name }),
        );
        out.extend(
            self.schemas
                .into_iter()
                .map(|(database, name)| LogRecord::CreateSchema { database, name }),
        );
        let live: Vec<GlobalId> = self.items.keys().copied().collect();
        let live_ids: BTreeSet<GlobalId> = live.iter().copied().collect();
        out.extend(self.items.into_values());
        for table in live {
            let mut updates = Vec::new();
            let mut bytes = 0;
            for (row, diff) in self.tables.contents(table) {
                bytes += postcard::experimental::serialized_size(&row).unwrap_or(64) + 8;
                updates.push((row, diff));
                if bytes >= ROWS_PER_RECORD_BYTES {
                    out.push(LogRecord::Write {
                        time: self.time,
                        table,
                        updates: std::mem::take(&mut updates),
                    });
                    bytes = 0;
                }
            }
            if !updates.is_empty() {
                out.push(LogRecord::Write {
                    time: self.time,
                    table,
                    updates,
                });
            }
        }
        // Sources' offsets (and latest errors) after their contents, as an ingest of nothing.
        for (source, offsets) in self.offsets {
            if live_ids.contains(&source) {
                out.push(LogRecord::Ingest {
                    time: self.time,
                    source,
                    updates: vec![],
                    offsets,
                    errors: self.errors.remove(&source).unwrap_or_default(),
                });
            }
        }
        out.push(LogRecord::NextId {
            id: GlobalId(self.next_id),
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repr::Datum;
    use crate::storage::log::{Log, LogOptions};

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("runnel-compact-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn folding_keeps_each_live_sources_latest_offsets() {
        let create = |id: u64| LogRecord::CreateItem {
            id: GlobalId(id),
            database: "materialize".into(),
            search_path: vec!["public".into()],
            sql: format!("CREATE SOURCE s{id} FROM KAFKA (BROKER 'b', TOPIC 't') FORMAT JSON"),
        };
        let ingest = |id: u64, time, offsets: &[(i32, i64)]| LogRecord::Ingest {
            time,
            source: GlobalId(id),
            updates: vec![(vec![Datum::Int64(time as i64)], 1)],
            offsets: offsets.iter().copied().collect(),
            errors: vec![],
        };
        let mut fold = Fold::default();
        for r in [
            create(1),
            create(2),
            ingest(1, 1, &[(0, 5)]),
            ingest(2, 2, &[(0, 1)]),
            ingest(1, 3, &[(0, 9), (1, 3)]),
            LogRecord::DropItems {
                ids: vec![GlobalId(2)],
            },
        ] {
            fold.apply(r);
        }
        let records = fold.into_records();
        let offsets: Vec<_> = records
            .iter()
            .filter_map(|r| match r {
                LogRecord::Ingest {
                    source, offsets, ..
                } => Some((*source, offsets.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(
            offsets,
            vec![(GlobalId(1), [(0, 9), (1, 3)].into_iter().collect())]
        );
        // The source's rows are in the base like a table's.
        assert!(records.iter().any(|r| matches!(r,
            LogRecord::Write { table, updates, .. } if *table == GlobalId(1) && updates.len() == 2)));
    }

    /// A table created, then its one row updated in place at times 1..=n, in small segments.
    fn write_log(dir: &Path, n: i64) {
        let opened = Log::open(dir, &LogOptions { segment_bytes: 200 }).unwrap();
        // The test compacts by hand: the background compactor is kept from folding anything.
        opened.log.retain_at_least(Timestamp::MAX);
        let mut records = vec![LogRecord::CreateItem {
            id: GlobalId(1),
            database: "materialize".into(),
            search_path: vec!["public".into()],
            sql: "CREATE TABLE t (v bigint)".into(),
        }];
        records.push(LogRecord::Write {
            time: 1,
            table: GlobalId(1),
            updates: vec![(vec![Datum::Int64(1)], 1)],
        });
        for v in 2..=n {
            records.push(LogRecord::Write {
                time: v as Timestamp,
                table: GlobalId(1),
                updates: vec![(vec![Datum::Int64(v - 1)], -1), (vec![Datum::Int64(v)], 1)],
            });
        }
        // One at a time: a segment closes between group commits.
        let (tx, rx) = mpsc::channel();
        for r in &records {
            let tx = tx.clone();
            opened.log.append(r.encode(), move || tx.send(()).unwrap());
            rx.recv().unwrap();
        }
    }

    /// The table's contents and the latest write time, as start-up would rebuild them.
    fn replayed(dir: &Path) -> (Vec<(crate::repr::Row, i64)>, Timestamp, usize) {
        let (payloads, torn, _) = Log::read_only(dir).unwrap();
        assert!(torn.is_none());
        let mut fold = Fold::default();
        let mut latest = 0;
        for p in &payloads {
            let r = LogRecord::decode(p).unwrap();
            if let LogRecord::Write { time, .. } = &r {
                latest = latest.max(*time);
            }
            fold.apply(r);
        }
        (fold.tables.contents(GlobalId(1)), latest, payloads.len())
    }

    #[test]
    fn a_table_updated_in_place_compacts_to_its_contents() {
        let dir = temp_dir("in-place");
        write_log(&dir, 300);
        let before = log::live_segments(&dir, false).unwrap().len();
        assert!(before > 10, "small segments: {before}");
        compact(&dir, Timestamp::MAX, &Mutex::new(())).unwrap();
        let after = log::live_segments(&dir, false).unwrap();
        assert!(after.len() <= 2, "{} segments left", after.len());
        let (contents, latest, records) = replayed(&dir);
        assert_eq!(contents, vec![(vec![Datum::Int64(300)], 1)]);
        assert_eq!(latest, 300);
        assert!(records < 10, "{records} records left");
        // Appends go on after a compaction, and a second one folds the first base in.
        drop(Log::open(&dir, &LogOptions::default()).unwrap());
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn writes_after_the_frontier_are_kept_as_they_are() {
        let dir = temp_dir("frontier");
        write_log(&dir, 300);
        compact(&dir, 150, &Mutex::new(())).unwrap();
        let (contents, latest, _) = replayed(&dir);
        assert_eq!(contents, vec![(vec![Datum::Int64(300)], 1)]);
        assert_eq!(latest, 300);
        // Every write after 150 is still its own record.
        let (payloads, _, from_base) = Log::read_only(&dir).unwrap();
        assert!(from_base);
        let times: Vec<Timestamp> = payloads
            .iter()
            .filter_map(|p| match LogRecord::decode(p).unwrap() {
                LogRecord::Write { time, .. } => Some(time),
                _ => None,
            })
            .collect();
        assert!((151..=300).all(|t| times.contains(&t)));
        // Before it, only the base's snapshot and the rest of the segment holding 151.
        assert!(
            times.iter().filter(|t| **t <= 150).count() <= 10,
            "{times:?}"
        );
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_streams_appends_are_copied_as_they_are_and_a_dropped_ones_go() {
        let dir = temp_dir("appends");
        {
            let opened = Log::open(&dir, &LogOptions { segment_bytes: 200 }).unwrap();
            opened.log.retain_at_least(Timestamp::MAX);
            let create = |id: u64| LogRecord::CreateItem {
                id: GlobalId(id),
                database: "materialize".into(),
                search_path: vec!["public".into()],
                sql: format!("CREATE TABLE s{id} (v bigint) APPEND ONLY"),
            };
            let mut records = vec![create(1), create(2)];
            for t in 1..=100 {
                records.push(LogRecord::Append {
                    time: t,
                    table: GlobalId(1 + t % 2),
                    progress: None,
                    updates: vec![(vec![Datum::Int64(t as i64)], 1)],
                });
            }
            records.push(LogRecord::DropItems {
                ids: vec![GlobalId(2)],
            });
            // Enough after the drop that its segment closes and is folded too.
            for t in 101..=130 {
                records.push(LogRecord::Append {
                    time: t,
                    table: GlobalId(1),
                    progress: None,
                    updates: vec![(vec![Datum::Int64(t as i64)], 1)],
                });
            }
            let (tx, rx) = mpsc::channel();
            for r in &records {
                let tx = tx.clone();
                opened.log.append(r.encode(), move || tx.send(()).unwrap());
                rx.recv().unwrap();
            }
        }
        let read = |dir: &Path| {
            let opened = Log::open(dir, &LogOptions::default()).unwrap();
            let streams = [GlobalId(1), GlobalId(2)].into_iter().collect();
            opened.log.read_appends(&streams).unwrap()
        };
        let before = read(&dir);
        assert_eq!(before[&GlobalId(1)].len(), 80);
        compact(&dir, Timestamp::MAX, &Mutex::new(())).unwrap();
        assert!(log::live_segments(&dir, false).unwrap().len() <= 2);
        let after = read(&dir);
        // Every row of the live stream, at its own time, in order; none of the dropped one's.
        assert_eq!(after[&GlobalId(1)], before[&GlobalId(1)]);
        assert!(after[&GlobalId(2)].is_empty());
        let times: Vec<Timestamp> = after[&GlobalId(1)].iter().map(|(_, t, _)| *t).collect();
        let want: Vec<Timestamp> = (1..=50).map(|i| 2 * i).chain(101..=130).collect();
        assert_eq!(times, want);
        // They went to an appends file beside the base, which batch replay reads too.
        let appends: Vec<PathBuf> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "appends"))
            .collect();
        assert_eq!(appends.len(), 1, "{appends:?}");
        let (records, _, _) = Log::read_only(&dir).unwrap();
        let replayed = records.iter().filter(|r| LogRecord::is_append(r)).count();
        assert_eq!(replayed, after[&GlobalId(1)].len());
        // An appends file newer than every base (a crash before the base's rename) is removed
        // on open, so its rows are not read twice.
        let orphan = dir.join(log::appends_name(99_999));
        fs::copy(&appends[0], &orphan).unwrap();
        assert_eq!(read(&dir)[&GlobalId(1)], before[&GlobalId(1)]);
        assert!(!orphan.exists());
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn segments_left_before_a_base_by_a_crash_are_removed_on_open() {
        let dir = temp_dir("stale");
        write_log(&dir, 100);
        compact(&dir, Timestamp::MAX, &Mutex::new(())).unwrap();
        // A crash between the rename and the removals leaves old segments before the base.
        fs::write(
            dir.join(log::segment_name(1)),
            b"stale, and not even well formed",
        )
        .unwrap();
        fs::write(dir.join("00000002.seg.tmp"), b"half a base").unwrap();
        let opened = Log::open(&dir, &LogOptions::default()).unwrap();
        assert!(!dir.join(log::segment_name(1)).exists());
        assert!(!dir.join("00000002.seg.tmp").exists());
        drop(opened);
        let (contents, _, _) = replayed(&dir);
        assert_eq!(contents, vec![(vec![Datum::Int64(100)], 1)]);
        fs::remove_dir_all(&dir).ok();
    }
}
