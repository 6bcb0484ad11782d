//! SQL `interval`: months, days and microseconds kept apart, as Postgres does, because a month
//! has no fixed length. Comparison and hashing use Postgres' normalization (30-day months,
//! 24-hour days) so that `'1 month' = '30 days'` holds, as it does in Postgres.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

const MICROS_PER_DAY: i128 = 86_400_000_000;

impl Interval {
    pub fn new(months: i32, days: i32, micros: i64) -> Self {
        Interval {
            months,
            days,
            micros,
        }
    }
    /// The total length under Postgres' comparison rules.
    fn normalized(&self) -> i128 {
        (self.months as i128 * 30 + self.days as i128) * MICROS_PER_DAY + self.micros as i128
    }
    /// The length in microseconds with 30-day months (used for `date_bin`-like arithmetic).
    pub fn as_micros(&self) -> i128 {
        self.normalized()
    }

    /// `self * factor` (or `self / factor` when `divide`), as PostgreSQL's `interval_mul` and
    /// `interval_div` compute it: each field scaled and truncated, the fraction of a month
    /// carried into days (30 to a month) and the fraction of a day into the time. `None` when a
    /// field leaves its range.
    pub fn scale(&self, factor: f64, divide: bool) -> Option<Interval> {
        let apply = |x: f64| if divide { x / factor } else { x * factor };
        // Postgres rounds intermediate seconds to microseconds (TSROUND).
        let round6 = |x: f64| (x * 1e6).round() / 1e6;
        let months = apply(self.months as f64);
        let days = apply(self.days as f64);
        let (whole_months, mut whole_days) = (months.trunc(), days.trunc());
        let month_days = round6((months - whole_months) * 30.0);
        let mut seconds = round6((days - whole_days + month_days.fract()) * 86_400.0);
        if seconds.abs() >= 86_400.0 {
            let carry = (seconds / 86_400.0).trunc();
            whole_days += carry;
            seconds -= carry * 86_400.0;
        }
        whole_days += month_days.trunc();
        let micros = (apply(self.micros as f64) + seconds * 1e6).round_ties_even();
        let fits = |x: f64, lo: f64, hi: f64| x.is_finite() && x >= lo && x <= hi;
        if !(fits(whole_months, i32::MIN as f64, i32::MAX as f64)
            && fits(whole_days, i32::MIN as f64, i32::MAX as f64)
            && fits(micros, i64::MIN as f64, i64::MAX as f64))
        {
            return None;
        }
        Some(Interval::new(
            whole_months as i32,
            whole_days as i32,
            micros as i64,
        ))
    }
}

impl PartialEq for Interval {
    fn eq(&self, other: &Self) -> bool {
        self.normalized() == other.normalized()
    }
}
impl Eq for Interval {}
impl PartialOrd for Interval {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Interval {
    fn cmp(&self, other: &Self) -> Ordering {
        self.normalized().cmp(&other.normalized())
    }
}
impl Hash for Interval {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.normalized().hash(state)
    }
}

/// Postgres' text form, e.g. `00:01:00` or `1 day 02:00:00`.
impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&super::strconv::format_interval(self))
    }
}
