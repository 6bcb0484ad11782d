//! Event-time windows: the windows a time falls in (`TUMBLE`, `HOP`), and `date_bin`.
//!
//! Windows are aligned to the Unix epoch, as in Flink, RisingWave and ksqlDB: a 1-minute window
//! starts on a whole minute. An event-time value is a `timestamp`, a `timestamptz` or a
//! `bigint` of epoch milliseconds (ksqlDB's `TIMESTAMP=` columns); window bounds have its type.

use chrono::DateTime;
use serde::{Deserialize, Serialize};

use super::error::EvalError;
use crate::repr::{ColumnType, Datum, Diff, Interval, Row, ScalarType};

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A function from one row's arguments to any number of rows of new columns.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TableFunc {
    /// The one window of `size` microseconds holding the time: `(window_start, window_end)`.
    Tumble { size: i64 },
    /// Every window of `size` microseconds starting at a multiple of `slide` that holds the time.
    Hop { slide: i64, size: i64 },
    /// `generate_series(start, stop [, step])`: one column, of the arguments' type.
    GenerateSeries,
    /// `unnest(array)`: the elements, in order.
    Unnest,
    /// `generate_subscripts(array, dim)`: the subscripts of the elements (none for a dimension
    /// other than 1).
    GenerateSubscripts,
    /// Several functions in lockstep (set-returning functions side by side in a select list),
    /// each with its number of arguments: row `i` holds each function's row `i`, or NULLs for
    /// those with fewer rows.
    Zip { funcs: Vec<(TableFunc, usize)> },
    /// `f WITH ORDINALITY`: `f`'s rows, each with its number (from 1) appended.
    Ordinality(Box<TableFunc>),
    /// `information_schema._pg_expandarray(array)`: one record `(x, n)` per element, the
    /// element and its position from 1 (pgJDBC's `getPrimaryKeys` reads index keys with it).
    ExpandArray,
}

impl TableFunc {
    /// The types of the columns each output row has, given the argument types.
    pub fn output_types(&self, args: &[ColumnType]) -> Vec<ColumnType> {
        let time = args.first().map_or(ScalarType::Timestamp, |a| a.scalar);
        match self {
            TableFunc::GenerateSeries => return vec![ColumnType::new(time, false)],
            TableFunc::Unnest => {
                return vec![ColumnType::new(time.element().unwrap_or(time), true)];
            }
            TableFunc::GenerateSubscripts => {
                return vec![ColumnType::new(ScalarType::Int32, false)];
            }
            TableFunc::Zip { funcs } => {
                let mut rest = args;
                let mut out = Vec::new();
                for (f, n) in funcs {
                    let (mine, others) = rest.split_at((*n).min(rest.len()));
                    rest = others;
                    out.extend(
                        f.output_types(mine)
                            .into_iter()
                            .map(|t| ColumnType::new(t.scalar, true)),
                    );
                }
                return out;
            }
            TableFunc::ExpandArray => {
                let element = time.element().unwrap_or(ScalarType::Unknown);
                let shape = crate::repr::RecordType::intern(vec![
                    ("x".into(), element),
                    ("n".into(), ScalarType::Int32),
                ]);
                return vec![ColumnType::new(ScalarType::Record(shape), false)];
            }
            TableFunc::Ordinality(f) => {
                let mut out = f.output_types(args);
                out.push(ColumnType::new(ScalarType::Int64, false));
                return out;
            }
            TableFunc::Tumble { .. } | TableFunc::Hop { .. } => {}
        }
        vec![ColumnType::new(time, false), ColumnType::new(time, false)]
    }

    /// The rows of new columns for one input row's argument values. A NULL time is in no window.
    pub fn eval(&self, args: &[Datum]) -> Result<Vec<Row>, EvalError> {
        let elements = || match args.first() {
            Some(Datum::Array(e) | Datum::Vector(e)) => e.clone(),
            _ => Vec::new(),
        };
        let time = args.first().unwrap_or(&Datum::Null);
        let window = |start: i64, size: i64| -> Result<Row, EvalError> {
            let end = start.checked_add(size).ok_or_else(out_of_range)?;
            Ok(vec![from_micros(start, time)?, from_micros(end, time)?])
        };
        match *self {
            TableFunc::Zip { ref funcs } => {
                let mut rest = args;
                let mut outputs = Vec::new();
                for (f, n) in funcs {
                    let (mine, others) = rest.split_at((*n).min(rest.len()));
                    rest = others;
                    let width = f
                        .output_types(&vec![ColumnType::new(ScalarType::Unknown, true); *n])
                        .len();
                    outputs.push((f.eval(mine)?, width));
                }
                let rows = outputs
                    .iter()
                    .map(|(rows, _)| rows.len())
                    .max()
                    .unwrap_or(0);
                Ok((0..rows)
                    .map(|i| {
                        outputs
                            .iter()
                            .flat_map(|(rows, width)| match rows.get(i) {
                                Some(row) => row.clone(),
                                None => vec![Datum::Null; *width],
                            })
                            .collect()
                    })
                    .collect())
            }
            TableFunc::Ordinality(ref f) => Ok(f
                .eval(args)?
                .into_iter()
                .zip(1i64..)
                .map(|(mut row, n)| {
                    row.push(Datum::Int64(n));
                    row
                })
                .collect()),
            TableFunc::ExpandArray => Ok(elements()
                .into_iter()
                .zip(1..)
                .map(|(e, n)| vec![Datum::Record(vec![e, Datum::Int32(n)])])
                .collect()),
            TableFunc::GenerateSeries => super::series::generate_series(args),
            TableFunc::Unnest => Ok(elements().into_iter().map(|e| vec![e]).collect()),
            TableFunc::GenerateSubscripts => {
                if args.get(1).and_then(Datum::as_i64) != Some(1) {
                    return Ok(vec![]);
                }
                // Vectors count from 0, arrays from 1.
                let lower = if matches!(args.first(), Some(Datum::Vector(_))) {
                    0
                } else {
                    1
                };
                let n = elements().len() as i32;
                Ok((lower..lower + n).map(|i| vec![Datum::Int32(i)]).collect())
            }
            TableFunc::Tumble { size } => match to_micros(time)? {
                Some(t) => Ok(vec![window(bin(t, size, 0), size)?]),
                None => Ok(vec![]),
            },
            TableFunc::Hop { slide, size } => {
                let Some(t) = to_micros(time)? else {
                    return Ok(vec![]);
                };
                let mut out = Vec::new();
                let mut start = bin(t, slide, 0);
                // Oldest window first, so the output reads in time order.
                while start > t.saturating_sub(size) {
                    out.push(window(start, size)?);
                    start = start.saturating_sub(slide);
                }
                out.reverse();
                Ok(out)
            }
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            TableFunc::Tumble { .. } => "tumble",
            TableFunc::Hop { .. } => "hop",
            TableFunc::GenerateSeries => "generate_series",
            TableFunc::Unnest => "unnest",
            TableFunc::GenerateSubscripts => "generate_subscripts",
            TableFunc::Zip { .. } => "zip",
            TableFunc::Ordinality(_) => "ordinality",
            TableFunc::ExpandArray => "_pg_expandarray",
        }
    }
}

impl std::fmt::Display for TableFunc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TableFunc::Tumble { size } => write!(f, "tumble(size={})", Interval::new(0, 0, *size)),
            TableFunc::Hop { slide, size } => write!(
                f,
                "hop(slide={}, size={})",
                Interval::new(0, 0, *slide),
                Interval::new(0, 0, *size)
            ),
            TableFunc::Zip { funcs } => {
                let names: Vec<String> = funcs.iter().map(|(f, _)| f.to_string()).collect();
                write!(f, "zip({})", names.join(", "))
            }
            TableFunc::Ordinality(inner) => write!(f, "{inner} with ordinality"),
            other => write!(f, "{}", other.name()),
        }
    }
}

/// Session windows over one partition's rows: rows whose times are less than `gap` apart are in
/// one session, from its first time to its last time plus `gap`. Each row comes back with
/// `(window_start, window_end)` appended; rows whose time is NULL are in no session.
pub fn sessions(
    rows: impl IntoIterator<Item = (Row, Diff)>,
    event_time: usize,
    gap: i64,
) -> Result<Vec<(Row, Diff)>, EvalError> {
    let mut timed = Vec::new();
    for (row, d) in rows {
        if let Some(t) = row.get(event_time).map(to_micros).transpose()?.flatten() {
            timed.push((t, row, d));
        }
    }
    timed.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    let mut out = Vec::with_capacity(timed.len());
    let mut start = 0;
    while start < timed.len() {
        let mut stop = start + 1;
        while stop < timed.len() && timed[stop].0.saturating_sub(timed[stop - 1].0) < gap {
            stop += 1;
        }
        let first = timed[start].0;
        let end = timed[stop - 1]
            .0
            .checked_add(gap)
            .ok_or_else(out_of_range)?;
        for (_, row, d) in &timed[start..stop] {
            let like = &row[event_time];
            let mut row = row.clone();
            row.push(from_micros(first, like)?);
            row.push(from_micros(end, like)?);
            out.push((row, *d));
        }
        start = stop;
    }
    Ok(out)
}

/// When windows close (`EMIT FINAL`): the watermark is the largest event time seen minus
/// `grace`; with `idle`, when no row has arrived for that long, it also advances with the
/// clock. A window closes when the watermark reaches its end. With `retention`, a closed
/// window's results leave again once the watermark plus the grace period (the event time the
/// watermark stands for) passes its end plus `retention`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CloseSpec {
    /// Microseconds.
    pub grace: i64,
    /// Microseconds without a row after which the watermark follows the clock.
    pub idle: Option<i64>,
    /// What a row for a window that has already closed does.
    pub late: LatePolicy,
    /// Microseconds after its end that a closed window's results are kept (at least `grace`);
    /// None: for ever.
    pub retention: Option<i64>,
}

/// An interval join's time bound: right event time within `[left + lo, left + hi]`
/// (microseconds, of the columns `left_time` and `right_time` of the joined row), and the
/// grace period of its watermark.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct JoinBound {
    pub left_time: usize,
    pub right_time: usize,
    pub lo: i64,
    pub hi: i64,
    pub grace: i64,
}

impl std::fmt::Display for JoinBound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |us: i64| us as f64 / 1000.0;
        write!(
            f,
            "#{} within [#{} {:+}ms, #{} {:+}ms] grace={}ms",
            self.right_time,
            self.left_time,
            ms(self.lo),
            self.left_time,
            ms(self.hi),
            ms(self.grace)
        )
    }
}

/// What a table declares for the windows that close over its event-time column: the delay of
/// its watermark (their default grace period), the idle timeout, and the policy for late rows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CloseDefaults {
    /// Microseconds.
    pub grace: Option<i64>,
    /// Microseconds.
    pub idle: Option<i64>,
    pub late: Option<LatePolicy>,
}

impl CloseDefaults {
    pub fn is_empty(&self) -> bool {
        *self == CloseDefaults::default()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum LatePolicy {
    /// Dropped, and counted (`SHOW LATE ROWS`).
    Drop,
    /// Passed on at once: the closed window's result changes.
    Update,
}

impl std::fmt::Display for CloseSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "grace={}", Interval::new(0, 0, self.grace))?;
        if let Some(idle) = self.idle {
            write!(f, " idle={}", Interval::new(0, 0, idle))?;
        }
        if let Some(retention) = self.retention {
            write!(f, " retention={}", Interval::new(0, 0, retention))?;
        }
        match self.late {
            LatePolicy::Drop => write!(f, " late=drop"),
            LatePolicy::Update => write!(f, " late=update"),
        }
    }
}

/// An interval as a fixed number of microseconds (a day is 24 hours), for sizing windows and
/// bins: months have no fixed length, so they are refused, as are sizes that are not positive.
pub fn fixed_micros(iv: &Interval, what: &str) -> Result<i64, String> {
    if iv.months != 0 {
        return Err(format!(
            "{what} cannot be given in months or years: they have no fixed length"
        ));
    }
    let micros = (iv.days as i64)
        .checked_mul(MICROS_PER_DAY)
        .and_then(|d| d.checked_add(iv.micros))
        .ok_or_else(|| format!("{what} is out of range"))?;
    if micros <= 0 {
        return Err(format!("{what} must be positive, not '{iv}'"));
    }
    Ok(micros)
}

/// As [`fixed_micros`], but zero is allowed (a grace period, a retention, a watermark delay).
pub fn fixed_micros_or_zero(iv: &Interval, what: &str) -> Result<i64, String> {
    if *iv == Interval::new(0, 0, 0) {
        return Ok(0);
    }
    fixed_micros(iv, what)
}

/// The start of the bin of `stride` that holds `t`, bins counted from `origin`.
pub fn bin(t: i64, stride: i64, origin: i64) -> i64 {
    let offset = (t as i128 - origin as i128).div_euclid(stride as i128) * stride as i128;
    (origin as i128 + offset).clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// `date_bin(stride, source [, origin])`: `source` rounded down to a multiple of `stride`
/// counted from `origin` (the epoch when not given), as in Postgres.
pub fn date_bin(
    stride: &Datum,
    source: &Datum,
    origin: Option<&Datum>,
) -> Result<Datum, EvalError> {
    let (Datum::Interval(iv), Some(t)) = (stride, to_micros(source)?) else {
        return Ok(Datum::Null);
    };
    let stride = fixed_micros(iv, "the stride of date_bin").map_err(EvalError::InvalidParameter)?;
    let origin = match origin {
        Some(o) => match to_micros(o)? {
            Some(o) => o,
            None => return Ok(Datum::Null),
        },
        None => 0,
    };
    from_micros(bin(t, stride, origin), source)
}

/// An event time in microseconds since the epoch; None for NULL.
pub fn to_micros(d: &Datum) -> Result<Option<i64>, EvalError> {
    Ok(Some(match d {
        Datum::Null => return Ok(None),
        Datum::Timestamp(t) => t.and_utc().timestamp_micros(),
        Datum::TimestampTz(t) => t.timestamp_micros(),
        Datum::Int64(ms) => ms.checked_mul(1000).ok_or_else(out_of_range)?,
        Datum::Int32(ms) => *ms as i64 * 1000,
        other => {
            return Err(EvalError::InvalidParameter(format!(
                "an event time must be a timestamp or epoch milliseconds, not {other:?}"
            )))
        }
    }))
}

/// Microseconds since the epoch as a datum of the same type as `like`.
fn from_micros(micros: i64, like: &Datum) -> Result<Datum, EvalError> {
    let t = DateTime::from_timestamp_micros(micros).ok_or_else(out_of_range);
    Ok(match like {
        Datum::TimestampTz(_) => Datum::TimestampTz(t?),
        Datum::Int64(_) | Datum::Int32(_) => Datum::Int64(micros.div_euclid(1000)),
        _ => Datum::Timestamp(t?.naive_utc()),
    })
}

fn out_of_range() -> EvalError {
    EvalError::OutOfRange("timestamp".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Datum {
        Datum::Timestamp(chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap())
    }

    #[test]
    fn windows_hold_their_time() {
        let min = 60_000_000;
        let rows = TableFunc::Hop {
            slide: 15 * min,
            size: 30 * min,
        }
        .eval(&[ts("2022-01-01 10:00:00")])
        .unwrap();
        assert_eq!(
            rows,
            vec![
                vec![ts("2022-01-01 09:45:00"), ts("2022-01-01 10:15:00")],
                vec![ts("2022-01-01 10:00:00"), ts("2022-01-01 10:30:00")],
            ]
        );
        let rows = TableFunc::Tumble { size: 30 * min }
            .eval(&[ts("2022-01-01 10:29:59")])
            .unwrap();
        assert_eq!(
            rows,
            vec![vec![ts("2022-01-01 10:00:00"), ts("2022-01-01 10:30:00")]]
        );
        // Epoch milliseconds, before the epoch too.
        let rows = TableFunc::Tumble { size: 1_000_000 }
            .eval(&[Datum::Int64(-1)])
            .unwrap();
        assert_eq!(rows, vec![vec![Datum::Int64(-1000), Datum::Int64(0)]]);
        assert!(TableFunc::Tumble { size: min }
            .eval(&[Datum::Null])
            .unwrap()
            .is_empty());
        // At the ends of the timestamp range: an error, never a panic.
        let last = Datum::Timestamp(chrono::NaiveDateTime::MAX);
        assert!(TableFunc::Tumble {
            size: 86_400_000_000
        }
        .eval(std::slice::from_ref(&last))
        .is_err());
        let first = Datum::Timestamp(chrono::NaiveDateTime::MIN);
        assert!(TableFunc::Hop { slide: 1, size: 3 }.eval(&[first]).is_err());
        assert!(sessions(vec![(vec![last], 1)], 0, i64::MAX).is_err());
    }

    #[test]
    fn sizes_are_fixed_and_positive() {
        assert!(fixed_micros(&Interval::new(1, 0, 0), "size").is_err());
        assert!(fixed_micros(&Interval::new(0, 0, 0), "size").is_err());
        assert!(fixed_micros(&Interval::new(0, 0, -1), "size").is_err());
        assert_eq!(
            fixed_micros(&Interval::new(0, 1, 1), "size"),
            Ok(MICROS_PER_DAY + 1)
        );
    }
}
