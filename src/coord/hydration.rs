//! Hydration: whether each table's and materialized view's arrangement has caught up with the
//! time it must reach before it reflects everything acknowledged: the time reads continued
//! from after a restart (when views rebuild from the log), or the time it was created.
//! `SHOW HYDRATION` reports it; after a restart the server log follows it until all are done.

use std::io::IsTerminal;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::read::Pending;
use super::{show, Coordinator, ReadFuture, Session, State};
use crate::catalog::{ItemKind, QualifiedName};
use crate::error::SqlError;
use crate::plan::Finishing;
use crate::repr::{Datum, GlobalId, Timestamp};
use crate::worker::Command;

/// An object whose arrangement hydrates.
pub(super) struct Hydrating {
    id: GlobalId,
    name: QualifiedName,
    kind: &'static str,
    /// The time its arrangement must be complete through.
    target: Timestamp,
}

/// A question to the workers about their arrangements' frontiers.
pub(super) struct HydrationRequest {
    objects: Vec<Hydrating>,
    rx: tokio::sync::mpsc::UnboundedReceiver<Vec<(GlobalId, Timestamp)>>,
    expected: usize,
}

impl HydrationRequest {
    /// Each object with whether it has hydrated on every worker (`None` if a worker went away).
    pub(super) async fn status(mut self) -> Option<Vec<(Hydrating, bool)>> {
        let mut replies = Vec::new();
        for _ in 0..self.expected {
            replies.push(self.rx.recv().await?);
        }
        Some(combine(self.objects, replies))
    }

    fn blocking_status(mut self) -> Option<Vec<(Hydrating, bool)>> {
        let mut replies = Vec::new();
        for _ in 0..self.expected {
            replies.push(self.rx.blocking_recv()?);
        }
        Some(combine(self.objects, replies))
    }
}

/// An object has hydrated once every worker's share of its arrangement is complete past its
/// target time.
fn combine(
    objects: Vec<Hydrating>,
    replies: Vec<Vec<(GlobalId, Timestamp)>>,
) -> Vec<(Hydrating, bool)> {
    objects
        .into_iter()
        .map(|o| {
            let hydrated = replies.iter().all(|frontiers| {
                frontiers
                    .iter()
                    .any(|(id, frontier)| *id == o.id && *frontier > o.target)
            });
            (o, hydrated)
        })
        .collect()
}

impl Coordinator {
    /// Asks the workers about every table and materialized view (in `database`, if given).
    pub(super) fn request_hydration(&self, st: &State, database: Option<&str>) -> HydrationRequest {
        let objects = st
            .catalog
            .items()
            .filter(|i| database.is_none_or(|d| i.name.database == d))
            // A stream has no arrangement to hydrate (its readers hydrate theirs).
            .filter(|i| !i.is_stream())
            .filter_map(|i| {
                let kind = match i.kind {
                    ItemKind::Table => "table",
                    ItemKind::Source(_) => "source",
                    ItemKind::MaterializedView { .. } => "materialized view",
                    ItemKind::View { .. } | ItemKind::Index { .. } | ItemKind::Sink { .. } => {
                        return None
                    }
                };
                Some(Hydrating {
                    id: i.id,
                    name: i.name.clone(),
                    kind,
                    target: i.created_at.max(st.started_at),
                })
            })
            .collect();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.workers
            .broadcast(|| Command::Frontiers { reply: tx.clone() });
        HydrationRequest {
            objects,
            rx,
            expected: self.workers.len(),
        }
    }

    /// `SHOW HYDRATION`: the session's database's tables and materialized views.
    pub(super) fn show_hydration(&self, st: &State, session: &Session) -> ReadFuture {
        let request = self.request_hydration(st, Some(&session.database));
        ReadFuture {
            desc: show::hydration_desc(),
            pending: Pending::Hydration(request),
            finishing: Finishing {
                project: vec![0, 1, 2],
                ..Default::default()
            },
        }
    }

    /// After a restart, follows the views rebuilding from the log until all have hydrated: a
    /// bar on a terminal, a log line every few seconds otherwise, and one line when done.
    pub(super) fn watch_hydration(self: &Arc<Self>) {
        if self.workers.len() == 0 || self.lock().catalog.items().next().is_none() {
            return;
        }
        let coord: Weak<Coordinator> = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("hydration".into())
            .spawn(move || follow(coord));
        if let Err(e) = spawned {
            tracing::warn!("cannot follow hydration (SHOW HYDRATION still reports it): {e}");
        }
    }
}

fn follow(coord: Weak<Coordinator>) {
    let started = Instant::now();
    let mut bar: Option<indicatif::ProgressBar> = None;
    let mut last_line = Instant::now();
    loop {
        let Some(status) = coord.upgrade().and_then(|c| {
            let request = c.request_hydration(&c.lock(), None);
            drop(c);
            request.blocking_status()
        }) else {
            return; // shutting down
        };
        let total = status.len();
        let waiting: Vec<String> = status
            .iter()
            .filter(|(_, hydrated)| !hydrated)
            .map(|(o, _)| o.name.to_string())
            .collect();
        let done = total - waiting.len();
        if waiting.is_empty() {
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            tracing::info!(
                "rehydrated {total} tables and materialized views from the log in {:.1?}: every read now answers without waiting",
                started.elapsed()
            );
            return;
        }
        if std::io::stderr().is_terminal() {
            let bar = bar.get_or_insert_with(|| {
                let bar = indicatif::ProgressBar::new(total as u64);
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "rehydrating views {bar:40} {pos}/{len} ({elapsed}) {msg}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                bar
            });
            bar.set_position(done as u64);
            bar.set_message(waiting.first().map(|w| w.to_string()).unwrap_or_default());
        } else if last_line.elapsed() >= Duration::from_secs(2) {
            tracing::info!(
                "rehydrating from the log: {done} of {total} tables and materialized views done, waiting for {}; reads of the others wait until they catch up (SHOW HYDRATION)",
                waiting[..waiting.len().min(5)].join(", ")
            );
            last_line = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `SHOW HYDRATION`'s rows, once the workers have answered.
pub(super) async fn rows(
    request: HydrationRequest,
) -> Result<Vec<(crate::repr::Row, i64)>, SqlError> {
    let status = request
        .status()
        .await
        .ok_or_else(|| SqlError::internal("a worker went away during SHOW HYDRATION"))?;
    let mut rows: Vec<_> = status
        .into_iter()
        .map(|(o, hydrated)| {
            (
                vec![
                    Datum::String(o.name.item),
                    Datum::String(o.kind.into()),
                    Datum::Bool(hydrated),
                ],
                1,
            )
        })
        .collect();
    rows.sort();
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(id: u64, target: Timestamp) -> Hydrating {
        Hydrating {
            id: GlobalId(id),
            name: QualifiedName {
                database: "d".into(),
                schema: "public".into(),
                item: format!("o{id}"),
            },
            kind: "table",
            target,
        }
    }

    #[test]
    fn hydrated_once_every_worker_is_complete_past_the_target() {
        let replies = vec![
            vec![(GlobalId(1), 11), (GlobalId(2), 11), (GlobalId(3), 10)],
            vec![
                (GlobalId(1), Timestamp::MAX),
                (GlobalId(2), 10),
                (GlobalId(3), 11),
            ],
        ];
        let status = combine(
            vec![object(1, 10), object(2, 10), object(3, 10), object(4, 10)],
            replies,
        );
        let hydrated: Vec<bool> = status.iter().map(|(_, h)| *h).collect();
        // 1: past 10 everywhere; 2 and 3: one worker only complete up to 10; 4: not installed.
        assert_eq!(hydrated, vec![true, false, false, false]);
    }
}
