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
