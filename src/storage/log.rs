//! The durable log: append-only segment files of framed records under `<data-dir>/log/`.
//!
//! A record is `[payload length: u32 LE][crc32c of payload: u32 LE][payload]`. Appends are
//! group-committed by one writer thread: whatever records arrived while the previous fsync ran
//! are written together and share the next fsync, and only then are their completions run (in
//! log order), which is when a write becomes visible and is acknowledged.
//!
//! Compaction (`compact.rs`) replaces a prefix of closed segments by one *base* segment: the
//! file of the last segment it folds, rewritten (through a temporary file and a rename) to
//! start with `BASE_MAGIC`. On open, everything before the latest base is stale and removed.
//! The streams' appends it folds go to an *appends* file named after the base's index
//! (`NNNNNNNN.appends`), written once and never rewritten: valid once a base at least that
//! index exists (one named after a base whose rename a crash prevented is removed on open).
//!
//! On open, every segment is read back. A record cut short or failing its checksum at the very
//! end of the last segment is a torn write from a crash: it is cut away and reported. A bad
//! record followed by good ones, or in an earlier segment, is corruption in the middle: opening
//! fails with the file and offset, and nothing is truncated.

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use super::LogRecord;
use crate::repr::{Diff, GlobalId, Row, Timestamp};

/// A segment is closed and a new one started once it passes this size (by default).
pub const SEGMENT_BYTES: u64 = 64 << 20;
const HEADER: usize = 8;
/// The first bytes of a base segment: what compaction wrote to replace all before it.
pub(super) const BASE_MAGIC: &[u8; 8] = b"RNLBASE1";
/// Closed segments are looked at for compaction this often, and whenever a segment closes.
const COMPACT_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// How the log is kept.
#[derive(Clone, Debug)]
pub struct LogOptions {
    /// The size at which a segment is closed and a new one started.
    pub segment_bytes: u64,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            segment_bytes: SEGMENT_BYTES,
        }
    }
}
/// The largest record the log takes; larger lengths in a header are a torn or corrupt header.
pub const MAX_RECORD: usize = 1 << 30;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("the log is corrupt in {file} at byte {offset}: {what}; refusing to start so that nothing is lost (move the data directory aside to start empty)")]
    Corrupt {
        file: PathBuf,
        offset: u64,
        what: String,
    },
    #[error("log i/o on {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0} is in use by another Runnel process; stop it, or pass another --data-dir")]
    Locked(PathBuf),
}

/// What was cut from a torn tail when the log was opened.
#[derive(Debug, Clone, PartialEq)]
pub struct TornTail {
    pub file: PathBuf,
    pub offset: u64,
    pub bytes_cut: u64,
}

/// What [`Log::read_only`] finds: the records, a torn tail left in place, and whether the log
/// begins with a base.
pub type ReadOnly = (Vec<Vec<u8>>, Option<TornTail>, bool);

/// The records already in the log, and a handle for appending more.
pub struct Opened {
    pub records: Vec<Vec<u8>>,
    pub torn: Option<TornTail>,
    pub log: Log,
}

type Completion = Box<dyn FnOnce() + Send>;

/// Each stream's appended rows, with their times.
pub type Appended = HashMap<GlobalId, Vec<(Row, Timestamp, Diff)>>;

pub struct Log {
    appends: Option<mpsc::Sender<(Vec<u8>, Completion)>>,
    writer: Option<std::thread::JoinHandle<()>>,
    compactor: Option<std::thread::JoinHandle<()>>,
    /// How much history (ms) compaction must leave unfolded.
    retain: Arc<AtomicU64>,
    /// The time of the latest durable write (kept by the coordinator, which reads there):
    /// compaction folds writes up to it, less `retain`.
    durable_time: Arc<AtomicU64>,
    dir: PathBuf,
    /// Held while compaction swaps segment files, and while they are read back: a reader must
    /// not see a new base and the segments it replaces.
    files: Arc<Mutex<()>>,
}

impl Drop for Log {
    /// Waits for the writer to finish what was appended (and release the directory's lock),
    /// and for a compaction under way to finish.
    fn drop(&mut self) {
        self.appends.take();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
        if let Some(c) = self.compactor.take() {
            let _ = c.join();
        }
    }
}

impl Log {
    /// Opens (or creates) the log in `dir`, reading back every record.
    pub fn open(dir: &Path, options: &LogOptions) -> Result<Opened, LogError> {
        fs::create_dir_all(dir).map_err(|e| LogError::Io(dir.to_path_buf(), e))?;
        // Two servers appending to one log would interleave records: hold a lock for life.
        let lock_path = dir.join("LOCK");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| LogError::Io(lock_path.clone(), e))?;
        lock.try_lock()
            .map_err(|_| LogError::Locked(dir.to_path_buf()))?;
        let mut segments = live_segments(dir, true)?;
        let (records, torn) = read_segments(&segments, true)?;
        if segments.is_empty() {
            segments.push(dir.join(segment_name(1)));
        }
        let path = segments.last().cloned().expect("at least one segment");
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| LogError::Io(path.clone(), e))?;
        sync_dir(dir)?;
        let (tx, rx) = mpsc::channel();
        let (closed_tx, closed_rx) = mpsc::channel();
        let writer = Writer {
            _lock: lock,
            dir: dir.to_path_buf(),
            size: file.metadata().map(|m| m.len()).unwrap_or(0),
            index: segment_index(&path).unwrap_or(1),
            file,
            segment_bytes: options.segment_bytes.max(1),
            closed: closed_tx,
        };
        let spawn_error = |e| LogError::Io(dir.to_path_buf(), e);
        let writer = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(spawn_error)?;
        let retain = Arc::new(AtomicU64::new(0));
        let durable_time = Arc::new(AtomicU64::new(0));
        let files = Arc::new(Mutex::new(()));
        let compactor = {
            let dir = dir.to_path_buf();
            let (retain, time) = (Arc::clone(&retain), Arc::clone(&durable_time));
            let files = Arc::clone(&files);
            std::thread::Builder::new()
                .name("log-compactor".into())
                .spawn(move || {
                    let frontier = || {
                        let t = time.load(Ordering::SeqCst);
                        t.saturating_sub(retain.load(Ordering::SeqCst))
                    };
                    super::compact::run(&dir, frontier, &files, closed_rx, COMPACT_EVERY)
                })
                .map_err(spawn_error)?
        };
        Ok(Opened {
            records,
            torn,
            log: Log {
                appends: Some(tx),
                writer: Some(writer),
                compactor: Some(compactor),
                retain,
                durable_time,
                dir: dir.to_path_buf(),
                files,
            },
        })
    }

    /// The time of the latest durable write, for the coordinator to keep up to date.
    pub fn durable_time(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.durable_time)
    }

    /// Keeps at least `ms` of history (by write time) out of compaction: what `AS OF` can reach
    /// after a restart.
    pub fn retain_at_least(&self, ms: u64) {
        self.retain.fetch_max(ms, Ordering::Relaxed);
    }

    /// Reads every record without changing anything (no lock, a torn tail is left in place
    /// and reported): for batch replay, also of a log a running server is appending to. The
    /// appends files' records come first, then the segments'.
    ///
    /// Also says whether the log begins with a base (history before it was compacted away).
    pub fn read_only(dir: &Path) -> Result<ReadOnly, LogError> {
        let segments = live_segments(dir, false)?;
        let from_base = match segments.first() {
            Some(first) => is_base(first)?,
            None => false,
        };
        let (mut records, _) = read_segments(&appends_files(dir, &segments)?, false)?;
        let (mut rest, torn) = read_segments(&segments, false)?;
        records.append(&mut rest);
        Ok((records, torn, from_base))
    }

    /// A log that takes no appends (batch replay reads, never writes).
    pub fn inert() -> Log {
        Log {
            appends: None,
            writer: None,
            compactor: None,
            retain: Arc::new(AtomicU64::new(0)),
            durable_time: Arc::new(AtomicU64::new(0)),
            dir: PathBuf::new(),
            files: Arc::default(),
        }
    }

    /// Every row appended to each of `streams` (`LogRecord::Append`), with its time, in log
    /// order: a stream's rows are kept nowhere else, so a dataflow that reads one starts here.
    /// Reads what is on disk: the caller waits for pending appends first if it needs them.
    pub fn read_appends(&self, streams: &BTreeSet<GlobalId>) -> Result<Appended, LogError> {
        let mut out: Appended = streams.iter().map(|id| (*id, Vec::new())).collect();
        if streams.is_empty() || self.appends.is_none() {
            return Ok(out);
        }
        let _files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        let segments = live_segments(&self.dir, false)?;
        let mut paths = appends_files(&self.dir, &segments)?;
        paths.extend(segments);
        for (i, path) in paths.iter().enumerate() {
            // A torn tail cannot be: nothing is being appended while the caller reads.
            let (payloads, _) = read_segment(path, i + 1 == paths.len(), false)?;
            for p in payloads.iter().filter(|p| LogRecord::is_append(p)) {
                let record = LogRecord::decode(p).map_err(|what| LogError::Corrupt {
                    file: path.clone(),
                    offset: 0,
                    what: format!("an undecodable record: {what}"),
                })?;
                if let LogRecord::Append {
                    time,
                    table,
                    updates,
                    ..
                } = record
                {
                    if let Some(rows) = out.get_mut(&table) {
                        rows.extend(updates.into_iter().map(|(r, d)| (r, time, d)));
                    }
                }
            }
        }
        Ok(out)
    }

    /// Appends a record; `durable` runs on the writer thread once it is on disk, after the
    /// completions of every earlier record.
    pub fn append(&self, payload: Vec<u8>, durable: impl FnOnce() + Send + 'static) {
        debug_assert!(!payload.is_empty(), "an empty payload is a barrier");
        if let Some(a) = &self.appends {
            // The writer only stops when the log is dropped.
            let _ = a.send((payload, Box::new(durable)));
        }
    }

    /// Runs `done` on the writer thread once every record appended before is durable, writing
    /// nothing: how the passing of time is ordered after the writes it follows.
    pub fn after_pending(&self, done: impl FnOnce() + Send + 'static) {
        if let Some(a) = &self.appends {
            let _ = a.send((Vec::new(), Box::new(done)));
        }
    }
}

struct Writer {
    /// Held (and the data directory locked) until the writer stops.
    _lock: File,
    dir: PathBuf,
    file: File,
    size: u64,
    index: u64,
    segment_bytes: u64,
    /// Told when a segment closes (there may be something to compact).
    closed: mpsc::Sender<()>,
}

impl Writer {
    fn run(mut self, appends: mpsc::Receiver<(Vec<u8>, Completion)>) {
        let mut buf = Vec::new();
        while let Ok(first) = appends.recv() {
            let mut batch = vec![first];
            batch.extend(appends.try_iter());
            buf.clear();
            for (payload, _) in batch.iter().filter(|(p, _)| !p.is_empty()) {
                frame(payload, &mut buf);
            }
            // A write that cannot be made durable must not be acknowledged: stop here, loudly.
            if buf.is_empty() {
                // Only barriers: nothing to write.
            } else if let Err(e) = self.write(&buf) {
                tracing::error!(
                    "cannot write the log in {}: {e}; no further writes will be acknowledged",
                    self.dir.display()
                );
                return;
            }
            for (_, done) in batch {
                done();
            }
        }
    }

    fn write(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if self.size >= self.segment_bytes {
            self.index += 1;
            self.file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join(segment_name(self.index)))?;
            self.size = 0;
            File::open(&self.dir)?.sync_all()?;
            let _ = self.closed.send(());
        }
        self.file.write_all(buf)?;
        self.file.sync_data()?;
        self.size += buf.len() as u64;
        Ok(())
    }
}

pub(super) fn frame(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

pub(super) fn segment_name(index: u64) -> String {
    format!("{index:08}.seg")
}

pub(super) fn segment_index(path: &Path) -> Option<u64> {
    path.file_stem()?.to_str()?.parse().ok()
}

/// Whether the segment is a base written by compaction.
fn is_base(path: &Path) -> Result<bool, LogError> {
    let mut magic = [0u8; 8];
    let mut f = File::open(path).map_err(|e| LogError::Io(path.to_path_buf(), e))?;
    Ok(f.read_exact(&mut magic).is_ok() && &magic == BASE_MAGIC)
}

/// The segments that hold the log: from the latest base on. Earlier ones were folded into it
/// (a compaction stopped before removing them); with `clean`, they and stray temporary files
/// are removed.
pub(super) fn live_segments(dir: &Path, clean: bool) -> Result<Vec<PathBuf>, LogError> {
    let mut paths = segment_paths(dir)?;
    let mut start = 0;
    for (i, p) in paths.iter().enumerate().rev() {
        if is_base(p)? {
            start = i;
            break;
        }
    }
    let live = paths.split_off(start);
    if clean {
        for stale in paths {
            fs::remove_file(&stale).map_err(|e| LogError::Io(stale.clone(), e))?;
        }
        let valid = appends_files(dir, &live)?;
        for stale in files_with_extension(dir, "appends")? {
            if !valid.contains(&stale) {
                fs::remove_file(&stale).map_err(|e| LogError::Io(stale.clone(), e))?;
            }
        }
        for entry in fs::read_dir(dir).map_err(|e| LogError::Io(dir.to_path_buf(), e))? {
            let p = entry
                .map_err(|e| LogError::Io(dir.to_path_buf(), e))?
                .path();
            if p.extension().is_some_and(|e| e == "tmp") {
                fs::remove_file(&p).map_err(|e| LogError::Io(p.clone(), e))?;
            }
        }
    }
    Ok(live)
}

/// Every record of `segments`, in order; a torn tail of the last is reported (and cut if
/// `repair`).
pub(super) fn read_segments(
    segments: &[PathBuf],
    repair: bool,
) -> Result<(Vec<Vec<u8>>, Option<TornTail>), LogError> {
    let mut records = Vec::new();
    let mut torn = None;
    for (i, path) in segments.iter().enumerate() {
        let (mut recs, cut) = read_segment(path, i + 1 == segments.len(), repair)?;
        records.append(&mut recs);
        torn = cut;
    }
    Ok((records, torn))
}

fn segment_paths(dir: &Path) -> Result<Vec<PathBuf>, LogError> {
    files_with_extension(dir, "seg")
}

fn files_with_extension(dir: &Path, extension: &str) -> Result<Vec<PathBuf>, LogError> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| LogError::Io(dir.to_path_buf(), e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    paths.sort();
    Ok(paths)
}

/// The appends file compaction writes with the base at `index`.
pub(super) fn appends_name(index: u64) -> String {
    format!("{index:08}.appends")
}

/// The valid appends files, in order: those named after the live base (the first of
/// `live_segments`) or an earlier one.
fn appends_files(dir: &Path, live_segments: &[PathBuf]) -> Result<Vec<PathBuf>, LogError> {
    let base = match live_segments.first() {
        Some(first) if is_base(first)? => segment_index(first).unwrap_or(0),
        _ => return Ok(Vec::new()),
    };
    Ok(files_with_extension(dir, "appends")?
        .into_iter()
        .filter(|p| segment_index(p).is_some_and(|i| i <= base))
        .collect())
}

pub(super) fn sync_dir(dir: &Path) -> Result<(), LogError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| LogError::Io(dir.to_path_buf(), e))
}

/// The record starting at `at`, if a whole one with a matching checksum is there.
fn record_at(data: &[u8], at: usize) -> Result<&[u8], String> {
    let Some(header) = data.get(at..at + HEADER) else {
        return Err(format!(
            "a record header cut short ({} bytes)",
            data.len() - at
        ));
    };
    let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
    if len > MAX_RECORD {
        return Err(format!("an impossible record length {len}"));
    }
    let Some(payload) = data.get(at + HEADER..at + HEADER + len) else {
        return Err(format!(
            "a record of {len} bytes cut short at {} bytes",
            data.len() - at - HEADER
        ));
    };
    if crc32c::crc32c(payload) != crc {
        return Err("a checksum mismatch".into());
    }
    Ok(payload)
}

/// The records of one segment. A torn tail (only possible in the `last` segment) is cut off the
/// file if `repair`, and reported either way.
pub(super) fn read_segment(
    path: &Path,
    last: bool,
    repair: bool,
) -> Result<(Vec<Vec<u8>>, Option<TornTail>), LogError> {
    let mut data = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .map_err(|e| LogError::Io(path.to_path_buf(), e))?;
    let mut records = Vec::new();
    let mut at = if data.starts_with(BASE_MAGIC) {
        BASE_MAGIC.len()
    } else {
        0
    };
    while at < data.len() {
        match record_at(&data, at) {
            Ok(payload) => {
                records.push(payload.to_vec());
                at += HEADER + payload.len();
            }
            Err(what) => {
                let corrupt = |what: String| LogError::Corrupt {
                    file: path.to_path_buf(),
                    offset: at as u64,
                    what,
                };
                if !last || good_record_follows(&data, at) {
                    return Err(corrupt(what));
                }
                // A torn tail: the crash interrupted the last group commit. Cut it off so
                // appends continue from the last whole record.
                if repair {
                    let file = OpenOptions::new()
                        .write(true)
                        .open(path)
                        .map_err(|e| LogError::Io(path.to_path_buf(), e))?;
                    file.set_len(at as u64)
                        .and_then(|_| file.sync_all())
                        .map_err(|e| LogError::Io(path.to_path_buf(), e))?;
                }
                let torn = TornTail {
                    file: path.to_path_buf(),
                    offset: at as u64,
                    bytes_cut: (data.len() - at) as u64,
                };
                return Ok((records, Some(torn)));
            }
        }
    }
    Ok((records, None))
}

/// Whether a whole, checksummed record starts anywhere after a bad one at `at`: then the bad
/// one is not a torn tail but damage in the middle of the log.
fn good_record_follows(data: &[u8], at: usize) -> bool {
    (at + 1..data.len().saturating_sub(HEADER))
        .any(|i| matches!(record_at(data, i), Ok(p) if !p.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append_all(log: &Log, payloads: &[&[u8]]) {
        let (tx, rx) = mpsc::channel();
        for p in payloads {
            let tx = tx.clone();
            log.append(p.to_vec(), move || tx.send(()).unwrap());
        }
        for _ in payloads {
            rx.recv().unwrap();
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("runnel-log-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn records_come_back_and_torn_tails_are_cut_at_every_position() {
        let dir = temp_dir("torn");
        {
            let opened = Log::open(&dir, &LogOptions::default()).unwrap();
            append_all(&opened.log, &[b"one", b"two", b"three"]);
        }
        let seg = dir.join(segment_name(1));
        let full = fs::read(&seg).unwrap();
        let whole = 2 * HEADER + 6; // "one" and "two"
        for cut in whole + 1..full.len() {
            fs::write(&seg, &full[..cut]).unwrap();
            let opened = Log::open(&dir, &LogOptions::default()).unwrap();
            assert_eq!(opened.records, vec![b"one".to_vec(), b"two".to_vec()]);
            let torn = opened.torn.expect("a torn tail is reported");
            assert_eq!(
                (torn.offset, torn.bytes_cut),
                (whole as u64, (cut - whole) as u64)
            );
            assert_eq!(fs::metadata(&seg).unwrap().len(), whole as u64);
        }
        // Appends continue after the cut.
        fs::write(&seg, &full[..whole + 3]).unwrap();
        let opened = Log::open(&dir, &LogOptions::default()).unwrap();
        append_all(&opened.log, &[b"four"]);
        drop(opened);
        let opened = Log::open(&dir, &LogOptions::default()).unwrap();
        assert_eq!(opened.records.len(), 3);
        assert_eq!(opened.records[2], b"four");
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn corruption_in_the_middle_is_an_error_naming_file_and_offset() {
        let dir = temp_dir("middle");
        {
            let opened = Log::open(&dir, &LogOptions::default()).unwrap();
            append_all(&opened.log, &[b"alpha", b"beta", b"gamma"]);
        }
        let seg = dir.join(segment_name(1));
        let mut data = fs::read(&seg).unwrap();
        data[HEADER + 1] ^= 0xff; // inside "alpha"
        fs::write(&seg, &data).unwrap();
        match Log::open(&dir, &LogOptions::default()) {
            Err(LogError::Corrupt { file, offset, .. }) => {
                assert_eq!(file, seg);
                assert_eq!(offset, 0);
            }
            other => panic!("expected corruption, got {:?}", other.map(|o| o.records)),
        }
        // Nothing was truncated.
        assert_eq!(fs::read(&seg).unwrap().len(), data.len());
        fs::remove_dir_all(&dir).ok();
    }
}
