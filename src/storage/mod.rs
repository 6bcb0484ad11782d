//! Storage: the durable log of everything that happened (`log`), the records it holds, and the
//! contents of every table as the consolidated result of all writes so far.
//!
//! The log is the truth: a write or a catalog change is appended (and fsynced) before anyone
//! can see it, and on start-up the log alone rebuilds the catalog and the tables, from which
//! every view is rehydrated. The table contents here are applied in the coordinator's critical
//! section, so UPDATE and DELETE read exactly the state they change.

pub mod compact;
pub mod log;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::repr::{Diff, GlobalId, Row, Timestamp};

pub use log::{Log, LogError, LogOptions, TornTail};

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LogRecord {
    /// A table, view or index, created by `sql` in a session on `database` with
    /// `search_path`; re-planned on start-up, where it must receive the same `id`.
    CreateItem {
        id: GlobalId,
        database: String,
        search_path: Vec<String>,
        sql: String,
    },
    DropItems {
        ids: Vec<GlobalId>,
    },
    CreateDatabase {
        name: String,
    },
    DropDatabase {
        name: String,
    },
    CreateSchema {
        database: String,
        name: String,
    },
    /// One transaction's updates to one table.
    Write {
        time: Timestamp,
        table: GlobalId,
        updates: Vec<(Row, Diff)>,
    },
    /// Ids below `id` were used (written by compaction, which drops the records of dropped
    /// items): new items get later ones.
    NextId {
        id: GlobalId,
    },
    /// Records read by a source, with the offsets reading them advanced to: one record, so a
    /// restart resumes exactly after what the log holds.
    Ingest {
        time: Timestamp,
        source: GlobalId,
        updates: Vec<(Row, Diff)>,
        offsets: crate::source::Offsets,
        /// Records that could not be decoded (skipped, or halted at).
        errors: Vec<crate::source::RecordError>,
    },
    /// One transaction's rows appended to a stream (an `APPEND ONLY` table, or a source that
    /// only appends), with the offsets reading them advanced to if a source read them. A
    /// stream's rows are kept nowhere but here: compaction copies these records as they are,
    /// and a dataflow reading the stream starts from them (`Log::read_appends`). Last, so that
    /// logs written before it existed decode unchanged.
    Append {
        time: Timestamp,
        table: GlobalId,
        /// Before the rows, so compaction reads it without decoding them.
        progress: Option<SourceProgress>,
        updates: Vec<(Row, Diff)>,
    },
}

impl LogRecord {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("log records always serialize")
    }

    pub fn decode(bytes: &[u8]) -> Result<LogRecord, String> {
        postcard::from_bytes(bytes).map_err(|e| e.to_string())
    }
    /// Whether an encoded record is an `Append`, without decoding it: postcard writes the
    /// variant's index first (one byte below 128).
    pub fn is_append(bytes: &[u8]) -> bool {
        bytes.first() == Some(&APPEND_VARIANT)
    }

    /// An encoded `Append`'s fields before its rows, without decoding the rows.
    pub fn append_header(bytes: &[u8]) -> Option<AppendHeader> {
        if !LogRecord::is_append(bytes) {
            return None;
        }
        type Header = (u8, Timestamp, GlobalId, Option<SourceProgress>);
        let ((_, time, table, progress), _rows) =
            postcard::take_from_bytes::<Header>(bytes).ok()?;
        Some(AppendHeader {
            time,
            table,
            progress,
        })
    }
}

/// What an encoded `Append` says before its rows.
#[derive(Debug, PartialEq)]
pub struct AppendHeader {
    pub time: Timestamp,
    pub table: GlobalId,
    pub progress: Option<SourceProgress>,
}

/// How far a source that appends to a stream has read, logged with the rows it read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceProgress {
    pub offsets: crate::source::Offsets,
    /// Records that could not be decoded (skipped, or halted at).
    pub errors: Vec<crate::source::RecordError>,
}

/// `LogRecord::Append`'s variant index.
const APPEND_VARIANT: u8 = 8;

#[derive(Default)]
pub struct TableStore {
    tables: HashMap<GlobalId, foldhash::HashMap<Row, Diff>>,
}

impl TableStore {
    pub fn create(&mut self, id: GlobalId) {
        self.tables.entry(id).or_default();
    }

    pub fn drop_table(&mut self, id: GlobalId) {
        self.tables.remove(&id);
    }

    pub fn tables(&self) -> impl Iterator<Item = GlobalId> + '_ {
        self.tables.keys().copied()
    }

    /// The table's rows with their multiplicities.
    pub fn contents(&self, id: GlobalId) -> Vec<(Row, Diff)> {
        self.tables
            .get(&id)
            .map(|t| t.iter().map(|(r, d)| (r.clone(), *d)).collect())
            .unwrap_or_default()
    }

    /// The table's rows, each as many times as it occurs.
    pub fn rows(&self, id: GlobalId) -> Vec<Row> {
        self.contents(id)
            .into_iter()
            .flat_map(|(row, n)| std::iter::repeat_n(row, n.max(0) as usize))
            .collect()
    }

    pub fn apply(&mut self, id: GlobalId, updates: &[(Row, Diff)]) {
        let table = self.tables.entry(id).or_default();
        for (row, diff) in updates {
            // Look up before cloning: most updates of a growing table are new rows, but a
            // retraction must not pay for a clone it then throws away.
            match table.get_mut(row) {
                Some(count) => {
                    *count += diff;
                    if *count == 0 {
                        table.remove(row);
                    }
                }
                None => {
                    table.insert(row.clone(), *diff);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repr::Datum;

    #[test]
    fn an_append_is_told_by_its_first_byte() {
        let append = LogRecord::Append {
            time: 7,
            table: GlobalId(3),
            progress: None,
            updates: vec![(vec![Datum::Int64(1)], 1)],
        };
        assert!(LogRecord::is_append(&append.encode()));
        assert_eq!(
            LogRecord::append_header(&append.encode()).map(|h| (h.time, h.table)),
            Some((7, GlobalId(3)))
        );
        let write = LogRecord::Write {
            time: 7,
            table: GlobalId(3),
            updates: vec![],
        };
        assert!(!LogRecord::is_append(&write.encode()));
        assert_eq!(LogRecord::append_header(&write.encode()), None);
        assert!(!LogRecord::is_append(
            &LogRecord::NextId { id: GlobalId(9) }.encode()
        ));
    }
}
