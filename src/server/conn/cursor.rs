//! FETCH from a cursor: rows of an ordinary query, or the changes of a subscription as they
//! come (waiting for the first, up to an optional timeout).

use std::sync::Arc;
use std::time::Duration;

use super::{canceled, Conn, Cursor, Outcome};
use crate::error::SqlError;
use crate::repr::{Datum, Row};
use crate::server::describe::subscribe_desc;

impl Conn {
    pub(super) async fn fetch(
        &mut self,
        name: &str,
        count: Option<u64>,
        timeout: Option<Duration>,
    ) -> Result<Outcome, SqlError> {
        let cancel = Arc::clone(&self.cancel);
        let cursor = self
            .cursors
            .get_mut(name)
            .ok_or_else(|| SqlError::new("34000", format!("cursor \"{name}\" does not exist")))?;
        let limit = count.map(|c| c as usize).unwrap_or(usize::MAX);
        match cursor {
            Cursor::Rows { desc, rows } => {
                let out: Vec<Row> = rows.by_ref().take(limit).collect();
                Ok(Outcome::Rows {
                    desc: desc.clone(),
                    rows: out,
                    tag: "FETCH",
                })
            }
            Cursor::Subscribe { sub, buffered } => {
                let desc = subscribe_desc(&sub.desc, sub.progress);
                let arity = sub.desc.arity();
                // Wait for at least one row (or the timeout), then take what is there.
                let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
                while buffered.is_empty() {
                    let next = async {
                        match deadline {
                            Some(d) => tokio::time::timeout_at(d, sub.next()).await.ok(),
                            None => Some(sub.next().await),
                        }
                    };
                    tokio::select! {
                        got = next => match got {
                            None => break,
                            Some(None) => break,
                            Some(Some(batch)) => buffered.extend(subscribe_rows(&batch?, sub.progress, arity)),
                        },
                        _ = cancel.notified() => return Err(canceled()),
                    }
                }
                // Drain whatever else is already available without waiting.
                while let Ok(Some(batch)) = tokio::time::timeout(Duration::ZERO, sub.next()).await {
                    buffered.extend(subscribe_rows(&batch?, sub.progress, arity));
                }
                let n = limit.min(buffered.len());
                let out: Vec<Row> = buffered.drain(..n).collect();
                Ok(Outcome::Rows {
                    desc,
                    rows: out,
                    tag: "FETCH",
                })
            }
        }
    }
}

/// A subscription batch as rows of `subscribe_desc`'s columns (with a progress row, if asked).
pub fn subscribe_rows(
    batch: &crate::worker::SubscribeBatch,
    progress: bool,
    arity: usize,
) -> Vec<Row> {
    let mut out = Vec::new();
    for (t, row, d) in &batch.updates {
        let mut r = vec![Datum::Numeric((*t).into())];
        if progress {
            r.push(Datum::Bool(false));
        }
        r.push(Datum::Int64(*d));
        r.extend(row.iter().cloned());
        out.push(r);
    }
    if progress && batch.upper != u64::MAX {
        let mut r = vec![
            Datum::Numeric(batch.upper.into()),
            Datum::Bool(true),
            Datum::Null,
        ];
        r.extend(std::iter::repeat_n(Datum::Null, arity));
        out.push(r);
    }
    out
}
