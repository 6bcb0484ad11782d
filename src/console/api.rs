//! The console's endpoints: `GET /api/objects` (JSON: every source, table and view with its
//! columns, row count, hydration and source status) and `GET /api/subscribe?database=&name=`
//! (server-sent events: the relation's columns, then its changes, one event per batch of
//! completed times).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use futures::Stream;
use serde::{Deserialize, Serialize};

use crate::catalog::ItemKind;
use crate::coord::{Coordinator, Response, Session, Subscription};
use crate::error::SqlError;
use crate::repr::{strconv, Datum, RelationDesc, Row, Timestamp};
use crate::worker::SubscribeBatch;

/// The user the console's statements run as (it shows in logs, never in results).
const USER: &str = "console";

/// A subscription's ready batches are sent as one event, up to this many updates.
const UPDATES_PER_EVENT: usize = 10_000;

/// Plans and sequences one statement in `database`, as a pgwire session would.
fn execute(coord: &Arc<Coordinator>, database: &str, sql: &str) -> Result<Response, SqlError> {
    let session = Session::new(USER, database);
    let stmt = crate::parse::parse_statement(sql)?;
    let plan = coord.plan(&session, &stmt, &[])?;
    coord.sequence(&session, plan)
}

/// The rows of a query (or SHOW) in `database`.
async fn query(
    coord: &Arc<Coordinator>,
    database: &str,
    sql: &str,
) -> Result<(RelationDesc, Vec<Row>), SqlError> {
    match execute(coord, database, sql)? {
        Response::Rows(read) => {
            let desc = read.desc.clone();
            Ok((desc, read.rows().await?))
        }
        _ => Err(SqlError::internal(format!("`{sql}` returned no rows"))),
    }
}

/// `"db"."schema"."item"`, quoted so that any name survives.
fn qualified(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| crate::parse::quote_ident(p))
        .collect::<Vec<_>>()
        .join(".")
}

#[derive(Serialize)]
struct Column {
    name: String,
    #[serde(rename = "type")]
    typ: &'static str,
}

fn columns(desc: &RelationDesc) -> Vec<Column> {
    desc.names
        .iter()
        .zip(&desc.types)
        .map(|(n, t)| Column {
            name: n.clone(),
            typ: t.scalar.name(),
        })
        .collect()
}

/// A source's status, as `SHOW SOURCES` reports it.
#[derive(Serialize)]
struct SourceStatus {
    state: Option<String>,
    records: Option<String>,
    errors: Option<String>,
    /// Offsets the source is behind the broker's high watermarks (Kafka sources).
    lag: Option<String>,
    last_error: Option<String>,
}

#[derive(Serialize)]
pub struct Object {
    database: String,
    schema: String,
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
    columns: Vec<Column>,
    /// `SELECT count(*)` at the latest complete time; `None` with `error` when it failed.
    rows: Option<i64>,
    error: Option<String>,
    /// Whether the arrangement has caught up (tables and materialized views).
    hydrated: Option<bool>,
    source: Option<SourceStatus>,
}

#[derive(Serialize)]
pub struct Objects {
    /// Wall-clock milliseconds when the answer was made.
    now: Timestamp,
    objects: Vec<Object>,
}

/// `GET /api/objects`.
pub async fn objects(State(coord): State<Arc<Coordinator>>) -> Json<Objects> {
    let mut objects: Vec<Object> = coord.with_catalog(|catalog| {
        catalog
            .items()
            .filter(|i| {
                matches!(
                    i.kind,
                    ItemKind::Table
                        | ItemKind::Source(_)
                        | ItemKind::View { .. }
                        | ItemKind::MaterializedView { .. }
                )
            })
            .map(|i| Object {
                database: i.name.database.clone(),
                schema: i.name.schema.clone(),
                name: i.name.item.clone(),
                kind: i.kind.type_name(),
                columns: columns(&i.desc),
                rows: None,
                error: None,
                hydrated: None,
                source: None,
            })
            .collect()
    });
    objects
        .sort_by(|a, b| (&a.database, &a.schema, &a.name).cmp(&(&b.database, &b.schema, &b.name)));

    let mut databases: Vec<String> = objects.iter().map(|o| o.database.clone()).collect();
    databases.dedup();
    // Status by (database, name): SHOW answers for the database's search path.
    let mut sources: HashMap<(String, String), SourceStatus> = HashMap::new();
    let mut hydrated: HashMap<(String, String), bool> = HashMap::new();
    for db in &databases {
        if let Ok((desc, rows)) = query(&coord, db, "SHOW SOURCES").await {
            let at = |name: &str| desc.names.iter().position(|n| n == name);
            let (name, state, records, errors, lag, last_error) = (
                at("name"),
                at("state"),
                at("records"),
                at("errors"),
                at("lag"),
                at("last_error"),
            );
            let get = |row: &Row, i: Option<usize>| i.and_then(|i| strconv::format(&row[i]));
            for row in &rows {
                let Some(n) = get(row, name) else { continue };
                sources.insert(
                    (db.clone(), n),
                    SourceStatus {
                        state: get(row, state),
                        records: get(row, records),
                        errors: get(row, errors),
                        lag: get(row, lag),
                        last_error: get(row, last_error),
                    },
                );
            }
        }
        if let Ok((_, rows)) = query(&coord, db, "SHOW HYDRATION").await {
            for row in rows {
                if let (Datum::String(n), Datum::Bool(h)) = (&row[0], &row[2]) {
                    hydrated.insert((db.clone(), n.clone()), *h);
                }
            }
        }
    }
    for o in &mut objects {
        let key = (o.database.clone(), o.name.clone());
        o.source = sources.remove(&key);
        o.hydrated = hydrated.get(&key).copied();
        let sql = format!(
            "SELECT count(*) FROM {}",
            qualified(&[&o.database, &o.schema, &o.name])
        );
        match query(&coord, &o.database, &sql).await {
            Ok((_, rows)) => match rows.first().map(|r| &r[0]) {
                Some(Datum::Int64(n)) => o.rows = Some(*n),
                _ => o.error = Some("count(*) returned no count".into()),
            },
            Err(e) => o.error = Some(e.message),
        }
    }
    Json(Objects {
        now: crate::repr::now_ms(),
        objects,
    })
}

#[derive(Deserialize)]
pub struct Target {
    database: String,
    #[serde(default = "public")]
    schema: String,
    name: String,
}

fn public() -> String {
    "public".into()
}

/// One batch of changes as the page receives it: each update's time, diff and column values
/// (text, as psql shows them; null as null), and the time before which all changes were sent
/// (`None` once the subscription has ended).
#[derive(Serialize)]
struct Changes {
    upper: Option<Timestamp>,
    updates: Vec<(Timestamp, i64, Vec<Option<String>>)>,
}

enum Feed {
    Starting(Result<Subscription, String>),
    Streaming(Subscription),
    /// The subscription failed after the changes just sent: the failure is sent next.
    Failing(String),
    Ended,
}

fn event(name: &str, data: &impl Serialize) -> Event {
    Event::default()
        .event(name)
        .json_data(data)
        .unwrap_or_else(|e| Event::default().event("failure").data(e.to_string()))
}

fn changes(batches: &[SubscribeBatch]) -> Changes {
    let upper = batches.last().map_or(0, |b| b.upper);
    Changes {
        upper: (upper != Timestamp::MAX).then_some(upper),
        updates: batches
            .iter()
            .flat_map(|b| &b.updates)
            .map(|(t, row, d)| (*t, *d, row.iter().map(strconv::format).collect()))
            .collect(),
    }
}

/// `GET /api/subscribe?database=d&name=v`: `columns` (the relation's columns), then `changes`
/// events; a `failure` event (its data the error message) ends the stream. Closing the page
/// drops the subscription.
pub async fn subscribe(
    State(coord): State<Arc<Coordinator>>,
    Query(target): Query<Target>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let sql = format!(
        "SUBSCRIBE TO {}",
        qualified(&[&target.database, &target.schema, &target.name])
    );
    let start = match execute(&coord, &target.database, &sql) {
        Ok(Response::Subscribe(sub)) => Ok(sub),
        Ok(_) => Err(format!("{} cannot be subscribed to", target.name)),
        Err(e) => Err(e.message),
    };
    let feed = futures::stream::unfold(Feed::Starting(start), |feed| async move {
        match feed {
            Feed::Starting(Ok(sub)) => {
                let cols = columns(&sub.desc);
                Some((Ok(event("columns", &cols)), Feed::Streaming(sub)))
            }
            Feed::Starting(Err(message)) | Feed::Failing(message) => Some((
                Ok(Event::default().event("failure").data(message)),
                Feed::Ended,
            )),
            Feed::Streaming(mut sub) => {
                let mut batches = match sub.next().await? {
                    Ok(batch) => vec![batch],
                    Err(e) => {
                        let failed = Event::default().event("failure").data(e.message);
                        return Some((Ok(failed), Feed::Ended));
                    }
                };
                // Whatever else is ready goes in the same event: a busy view is sent a few
                // times a second, not once per write.
                let mut n = batches[0].updates.len();
                let mut next = None;
                while n < UPDATES_PER_EVENT && next.is_none() {
                    match sub.try_next() {
                        Some(Ok(batch)) => {
                            n += batch.updates.len();
                            batches.push(batch);
                        }
                        Some(Err(e)) => next = Some(Feed::Failing(e.message)),
                        None => break,
                    }
                }
                let ended = batches.last().is_some_and(|b| b.upper == Timestamp::MAX);
                let next = next.unwrap_or(if ended {
                    Feed::Ended
                } else {
                    Feed::Streaming(sub)
                });
                Some((Ok(event("changes", &changes(&batches))), next))
            }
            Feed::Ended => None,
        }
    });
    Sse::new(feed).keep_alive(KeepAlive::default())
}
