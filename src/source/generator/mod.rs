//! Load generators: sources that make up their events (see `parse::generator` for the
//! statement and `data` for what they generate).
//!
//! Event `i` of the main output happens at `start + i / rate`: its event time is that instant,
//! and the generator emits it once the wall clock reaches it (all at once for a start in the
//! past, so a restart after downtime catches up and the data stays the seed's). Each output
//! records how many events it has emitted as its offset, in the log with the rows, so a restart
//! continues exactly after the last batch the log holds.

pub mod data;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Batch, Ingest, SharedStatus, SourceState};
use crate::parse::Generator;
use crate::repr::{ColumnType, Datum, GlobalId, RelationDesc, Row, ScalarType};

/// At most this many events of an output per log record (a long catch-up goes in steps).
const BATCH_EVENTS: u64 = 10_000;
/// The longest a generator sleeps before looking at the clock (and whether it was dropped).
const IDLE_WAIT: Duration = Duration::from_millis(100);
/// One customer change per this many ratings.
const RATINGS_PER_CUSTOMER_CHANGE: u64 = 10;

/// A load generator's settings, all explicit (the coordinator fills in the seed and start).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorSpec {
    pub generator: Generator,
    /// Events per second of the main output.
    pub rate: f64,
    pub seed: u64,
    /// Event time of event 0, in milliseconds since the epoch.
    pub start_ms: i64,
    /// Stop after this many events of the main output.
    pub up_to: Option<u64>,
    /// Customers (RATINGS) or cards (AUTHORIZATIONS).
    pub population: u64,
}

/// One relation a generator fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Output {
    Ratings,
    Customers,
    Authorizations,
    Syslog,
    /// How many events each of the generator's outputs has emitted (a generator with several
    /// outputs).
    Progress,
}

impl Output {
    /// Whether the relation only ever gains rows (a stream of events), rather than changing
    /// the rows it has (customers, progress counts).
    pub fn is_append_only(self) -> bool {
        matches!(
            self,
            Output::Ratings | Output::Authorizations | Output::Syslog
        )
    }
}

impl GeneratorSpec {
    /// The relations the generator fills, the main one first.
    pub fn outputs(&self) -> &'static [Output] {
        Self::outputs_of(self.generator)
    }

    pub fn outputs_of(generator: Generator) -> &'static [Output] {
        match generator {
            Generator::Ratings => &[Output::Ratings, Output::Customers],
            Generator::Authorizations => &[Output::Authorizations],
            Generator::Syslog => &[Output::Syslog],
        }
    }

    /// A seed for a generator given none: different on every call (it is logged, not secret).
    pub fn random_seed() -> u64 {
        (now_ms() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16
    }

    /// A `START TIME` (any timestamp with or without zone; UTC if without) in milliseconds.
    pub fn parse_start_time(text: &str) -> Option<i64> {
        match crate::repr::strconv::parse(text, ScalarType::TimestampTz) {
            Ok(Datum::TimestampTz(t)) => Some(t.timestamp_millis()),
            _ => None,
        }
    }

    /// The population when the statement names none.
    pub fn default_population(generator: Generator) -> u64 {
        match generator {
            Generator::Ratings => 100,
            Generator::Authorizations => 1_000,
            Generator::Syslog => 0,
        }
    }

    fn event_ms(&self, index: u64) -> i64 {
        self.start_ms
            .saturating_add((index as f64 * 1000.0 / self.rate) as i64)
    }

    /// How many events of `output` are due once the main output has emitted `main` events.
    fn due(&self, output: Output, main: u64) -> u64 {
        match output {
            Output::Customers => self.population + main / RATINGS_PER_CUSTOMER_CHANGE,
            _ => main,
        }
    }

    /// How many events of the main output are due at wall-clock time `now_ms`.
    fn main_due(&self, now_ms: i64) -> u64 {
        let due = if now_ms < self.start_ms {
            0
        } else {
            ((now_ms - self.start_ms) as f64 * self.rate / 1000.0) as u64 + 1
        };
        self.up_to.map_or(due, |n| due.min(n))
    }
}

impl Output {
    pub fn name(self) -> &'static str {
        match self {
            Output::Ratings => "ratings",
            Output::Customers => "customers",
            Output::Authorizations => "authorizations",
            Output::Syslog => "syslog",
            Output::Progress => "progress",
        }
    }

    /// The relation's columns.
    pub fn desc(self) -> RelationDesc {
        use ScalarType::*;
        let cols: &[(&str, ScalarType)] = match self {
            Output::Ratings => &[
                ("rating_id", Int64),
                ("user_id", Int32),
                ("stars", Int32),
                ("route_id", Int32),
                ("rating_time", Timestamp),
                ("channel", Text),
                ("message", Text),
            ],
            Output::Customers => &[
                ("id", Int32),
                ("first_name", Text),
                ("last_name", Text),
                ("email", Text),
                ("gender", Text),
                ("club_status", Text),
                ("comments", Text),
            ],
            Output::Authorizations => &[
                ("auth_id", Int64),
                ("card_number", Text),
                ("merchant", Text),
                ("amount", Numeric),
                ("success", Bool),
                ("auth_time", Timestamp),
            ],
            Output::Syslog => &[
                ("ts", Timestamp),
                ("host", Text),
                ("app", Text),
                ("pid", Int32),
                ("severity", Text),
                ("message", Text),
            ],
            Output::Progress => &[("output", Text), ("events", Int64)],
        };
        RelationDesc::new(
            cols.iter().map(|(n, _)| n.to_string()).collect(),
            cols.iter()
                .map(|(_, t)| ColumnType::new(*t, false))
                .collect(),
        )
    }

    /// The column holding each row's event time.
    pub fn event_time(self) -> Option<usize> {
        match self {
            Output::Ratings => Some(4),
            Output::Authorizations => Some(5),
            Output::Syslog => Some(0),
            Output::Customers | Output::Progress => None,
        }
    }
}

/// Where one of a generator's relations stands.
pub struct Feed {
    pub output: Output,
    /// Events emitted so far (the offset the log holds).
    pub emitted: u64,
    /// The relation's current rows (the customers feed changes them; progress replaces them).
    pub rows: Vec<Row>,
}

/// A generator's position in its events: what comes next is a function of it and the clock.
pub struct Generation {
    pub spec: GeneratorSpec,
    /// The data outputs first, the progress relation (which counts them) last.
    feeds: Vec<Feed>,
    /// The customers feed's current rows, by id.
    customers: HashMap<i32, Row>,
}

/// One relation's changes in a step, and the event count they bring it to.
pub struct Changes {
    pub output: Output,
    pub updates: Vec<(Row, i64)>,
    pub to: u64,
}

impl Generation {
    pub fn new(spec: GeneratorSpec, mut feeds: Vec<Feed>) -> Generation {
        feeds.sort_by_key(|f| f.output == Output::Progress);
        let customers = feeds
            .iter()
            .filter(|f| f.output == Output::Customers)
            .flat_map(|f| &f.rows)
            .filter_map(|r| match r.first() {
                Some(Datum::Int32(id)) => Some((*id, r.clone())),
                _ => None,
            })
            .collect();
        Generation {
            spec,
            feeds,
            customers,
        }
    }

    /// Events of the main output emitted (all of them for a generator without it).
    fn main_emitted(&self) -> u64 {
        let main = self.spec.outputs()[0];
        self.feeds
            .iter()
            .find(|f| f.output == main)
            .map_or(u64::MAX, |f| f.emitted)
    }

    /// Events `output` has emitted.
    pub fn emitted(&self, output: Output) -> u64 {
        self.feeds
            .iter()
            .find(|f| f.output == output)
            .map_or(0, |f| f.emitted)
    }

    /// How many events the main output is behind the clock.
    pub fn behind(&self, now_ms: i64) -> u64 {
        self.spec
            .main_due(now_ms)
            .saturating_sub(self.main_emitted())
    }

    /// The changes due by wall-clock time `now_ms` (at most `BATCH_EVENTS` events of the main
    /// output at once), per relation that has any. Each must be `commit`ted once delivered.
    pub fn step(&mut self, now_ms: i64) -> Vec<Changes> {
        let spec = &self.spec;
        let main_to = spec
            .main_due(now_ms)
            .min(self.main_emitted().saturating_add(BATCH_EVENTS));
        let counts: Vec<(Output, u64)> = self
            .feeds
            .iter()
            .filter(|f| f.output != Output::Progress)
            .map(|f| (f.output, spec.due(f.output, main_to)))
            .collect();
        let mut out = vec![];
        for feed in &mut self.feeds {
            let to = spec.due(feed.output, main_to);
            let updates: Vec<(Row, i64)> = match feed.output {
                // Like the customers' state, the progress rows move on at once: a relation
                // whose changes are not delivered was dropped.
                Output::Progress => {
                    let new: Vec<Row> = counts.iter().map(|c| progress_row(*c)).collect();
                    let old = std::mem::replace(&mut feed.rows, new);
                    progress(&old, &feed.rows)
                }
                Output::Customers => (feed.emitted..to)
                    .flat_map(|i| {
                        data::customer_change(spec.seed, i, spec.population, &mut self.customers)
                    })
                    .collect(),
                output => (feed.emitted..to)
                    .map(|i| (event(spec, output, i), 1))
                    .collect(),
            };
            if !updates.is_empty() {
                out.push(Changes {
                    output: feed.output,
                    updates,
                    to,
                });
            }
        }
        out
    }

    /// Records that `output`'s changes up to event `to` were delivered.
    pub fn commit(&mut self, output: Output, to: u64) {
        if let Some(feed) = self.feeds.iter_mut().find(|f| f.output == output) {
            feed.emitted = to;
        }
    }

    /// Stops generating `output` (its relation was dropped).
    pub fn remove(&mut self, output: Output) {
        self.feeds.retain(|f| f.output != output);
    }

    /// Whether every event there is to generate has been (`UP TO`), or nothing is left to fill.
    pub fn finished(&self) -> bool {
        let data = self.feeds.iter().any(|f| f.output != Output::Progress);
        !data || self.spec.up_to.is_some_and(|n| self.main_emitted() >= n)
    }

    /// How long to wait before the next event is due (zero if one is).
    pub fn wait(&self, now_ms: i64) -> Duration {
        if self.behind(now_ms) > 0 {
            return Duration::ZERO;
        }
        let next_ms = self.spec.event_ms(self.main_emitted());
        Duration::from_millis(next_ms.saturating_sub(now_ms).max(1) as u64).min(IDLE_WAIT)
    }
}

/// Starts generating on a thread into the relations `ids` (by output); `owner` is the catalog
/// item whose existence keeps it going.
pub fn spawn(
    owner: GlobalId,
    name: String,
    generation: Generation,
    ids: HashMap<Output, GlobalId>,
    status: SharedStatus,
    target: Arc<dyn Ingest>,
) {
    let spawned = std::thread::Builder::new()
        .name(format!("generator-{owner}"))
        .spawn({
            let name = name.clone();
            move || run(owner, &name, generation, &ids, &status, target.as_ref())
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start a thread for load generator {name}: {e}");
    }
}

fn run(
    owner: GlobalId,
    name: &str,
    mut generation: Generation,
    ids: &HashMap<Output, GlobalId>,
    status: &SharedStatus,
    target: &dyn Ingest,
) {
    let behind = generation.behind(now_ms());
    if behind > BATCH_EVENTS {
        tracing::info!("load generator {name} is {behind} events behind the clock; catching up");
    }
    set_state(status, SourceState::Running);
    while target.exists(owner) {
        for Changes {
            output,
            updates,
            to,
        } in generation.step(now_ms())
        {
            let Some(&id) = ids.get(&output) else {
                continue;
            };
            let events = to.saturating_sub(generation.emitted(output));
            let batch = Batch {
                updates,
                offsets: BTreeMap::from([(0, to as i64)]),
                errors: vec![],
            };
            // False once the relation was dropped: the others go on.
            if target.ingest(id, batch) {
                if output != Output::Progress {
                    let mut s = status.lock().unwrap_or_else(|p| p.into_inner());
                    s.records += events;
                }
                generation.commit(output, to);
            } else {
                generation.remove(output);
            }
        }
        if generation.finished() {
            set_state(status, SourceState::Finished);
            tracing::info!("load generator {name} has emitted all its events");
            return;
        }
        std::thread::sleep(generation.wait(now_ms()));
    }
}

/// Event `index` of a stream output.
fn event(spec: &GeneratorSpec, output: Output, index: u64) -> Row {
    let at = spec.event_ms(index);
    match output {
        Output::Ratings => data::rating(spec.seed, index, spec.population, at),
        Output::Authorizations => data::authorization(spec.seed, index, spec.population, at),
        _ => data::syslog(spec.seed, index, at),
    }
}

fn progress_row((output, events): (Output, u64)) -> Row {
    vec![
        Datum::String(output.name().into()),
        Datum::Int64(events as i64),
    ]
}

/// The progress relation's changes from rows `old` to rows `new`.
fn progress(old: &[Row], new: &[Row]) -> Vec<(Row, i64)> {
    let retracted = old.iter().map(|r| (r.clone(), -1));
    let inserted = new.iter().map(|r| (r.clone(), 1));
    crate::ir::eval::consolidate(retracted.chain(inserted).collect())
}

fn set_state(status: &SharedStatus, state: SourceState) {
    status.lock().unwrap_or_else(|p| p.into_inner()).state = state;
}

/// The wall clock, signed as event times are.
pub fn now_ms() -> i64 {
    crate::repr::now_ms() as i64
}
