//! Writes: a transaction's updates to one table or stream, logged at a new time and handed to
//! the workers once durable.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{Coordinator, State};
use crate::error::SqlError;
use crate::repr::{Diff, GlobalId, Row, Timestamp};
use crate::storage::LogRecord;

impl Coordinator {
    /// Appends rows decoded outside the planner (COPY FROM) to a table, in one transaction.
    /// The returned signal fires once they are durable.
    pub fn append(
        &self,
        id: GlobalId,
        rows: Vec<Row>,
    ) -> Result<Option<tokio::sync::oneshot::Receiver<()>>, SqlError> {
        let mut st = self.lock();
        if st.catalog.get(id).is_none() {
            return Err(SqlError::new("42P01", "the table was dropped during COPY"));
        }
        st.pending = None;
        self.write(&mut st, id, rows.into_iter().map(|r| (r, 1)).collect())?;
        Ok(st.pending.take())
    }

    /// Appends updates to one table at a new time. They reach the workers, and become visible
    /// to reads, once the log has made them durable (and after every earlier write).
    pub(super) fn write(
        &self,
        st: &mut State,
        id: GlobalId,
        updates: Vec<(Row, Diff)>,
    ) -> Result<(), SqlError> {
        if updates.is_empty() {
            return Ok(());
        }
        let time = st.next_write_time();
        let stream = st.catalog.is_stream(id);
        let record = if stream {
            LogRecord::Append {
                time,
                table: id,
                progress: None,
                updates,
            }
        } else {
            LogRecord::Write {
                time,
                table: id,
                updates,
            }
        };
        let payload = record.encode();
        if payload.len() > crate::storage::log::MAX_RECORD {
            return Err(SqlError::new(
                "54000",
                format!(
                    "a transaction of {} MiB is larger than the log takes in one record ({} MiB)",
                    payload.len() >> 20,
                    crate::storage::log::MAX_RECORD >> 20
                ),
            )
            .with_hint("Write the rows in several smaller transactions."));
        }
        let (LogRecord::Write { updates, .. } | LogRecord::Append { updates, .. }) = record else {
            unreachable!("built above")
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.log_updates(st, (time, id), payload, updates, move || {
            let _ = tx.send(());
        });
        st.pending = Some(rx);
        Ok(())
    }

    /// Sequences `updates` to `id` at `time`, whose log record is `payload`: a table's are
    /// applied to its contents now (a stream's are kept only in the log); they reach the
    /// workers, and become visible to reads, once the log has made them durable (after every
    /// earlier write), and then `durable` runs.
    pub(super) fn log_updates(
        &self,
        st: &mut State,
        (time, id): (Timestamp, GlobalId),
        payload: Vec<u8>,
        updates: Vec<(Row, Diff)>,
        durable: impl FnOnce() + Send + 'static,
    ) {
        st.write_ts = time;
        if !st.catalog.is_stream(id) {
            st.tables.apply(id, &updates);
        }
        let tagged: Vec<_> = updates.into_iter().map(|(r, d)| (id, r, d)).collect();
        let (workers, read_ts) = (Arc::clone(&self.workers), Arc::clone(&self.read_ts));
        self.log.append(payload, move || {
            workers.write(time, tagged);
            read_ts.store(time, Ordering::SeqCst);
            durable();
        });
    }
}
