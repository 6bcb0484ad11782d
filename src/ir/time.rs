//! Date and time functions: interval arithmetic, `extract`/`date_part`, `date_trunc`.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use rust_decimal::Decimal;

use super::error::EvalError;
use super::func::{range, type_error, Func};
use crate::repr::{Datum, Interval};

pub(super) fn micros_interval(d: chrono::TimeDelta) -> Interval {
    let micros = d.num_microseconds().unwrap_or(i64::MAX);
    let days = micros / 86_400_000_000;
    Interval::new(0, days as i32, micros - days * 86_400_000_000)
}

pub(super) fn add_interval(
    t: NaiveDateTime,
    iv: &Interval,
    op: &Func,
) -> Result<NaiveDateTime, EvalError> {
    let sign = if matches!(op, Func::Sub) { -1 } else { 1 };
    let months = sign * iv.months;
    let mut out = if months >= 0 {
        t.checked_add_months(chrono::Months::new(months as u32))
    } else {
        t.checked_sub_months(chrono::Months::new(months.unsigned_abs()))
    }
    .ok_or(range("timestamp"))?;
    out = out
        .checked_add_signed(chrono::Duration::days((sign * iv.days) as i64))
        .and_then(|o| o.checked_add_signed(chrono::Duration::microseconds(sign as i64 * iv.micros)))
        .ok_or(range("timestamp"))?;
    Ok(out)
}

fn as_timestamp(d: &Datum) -> Option<NaiveDateTime> {
    match d {
        Datum::Timestamp(t) => Some(*t),
        Datum::TimestampTz(t) => Some(t.naive_utc()),
        Datum::Date(d) => d.and_hms_opt(0, 0, 0),
        _ => None,
    }
}

pub(super) fn extract(field: &str, d: &Datum) -> Result<Decimal, EvalError> {
    if let Datum::Interval(iv) = d {
        let secs = Decimal::from(iv.micros) / Decimal::from(1_000_000);
        return Ok(match field {
            "epoch" => Decimal::from(iv.months as i64 * 30 * 86400 + iv.days as i64 * 86400) + secs,
            "year" => Decimal::from(iv.months / 12),
            "month" => Decimal::from(iv.months % 12),
            "day" => Decimal::from(iv.days),
            "hour" => Decimal::from(iv.micros / 3_600_000_000),
            "minute" => Decimal::from((iv.micros / 60_000_000) % 60),
            "second" => Decimal::from(iv.micros % 60_000_000) / Decimal::from(1_000_000),
            f => {
                return Err(EvalError::InvalidParameter(format!(
                    "unit \"{f}\" not supported for type interval"
                )))
            }
        });
    }
    let t = as_timestamp(d).ok_or_else(|| type_error("extract", d))?;
    let micros_in_minute = t.second() as i64 * 1_000_000 + (t.nanosecond() / 1000) as i64;
    Ok(match field {
        "year" => Decimal::from(t.year()),
        "quarter" => Decimal::from((t.month() - 1) / 3 + 1),
        "month" => Decimal::from(t.month()),
        "week" => Decimal::from(t.iso_week().week()),
        "day" => Decimal::from(t.day()),
        "dow" => Decimal::from(t.weekday().num_days_from_sunday()),
        "isodow" => Decimal::from(t.weekday().number_from_monday()),
        "doy" => Decimal::from(t.ordinal()),
        "hour" => Decimal::from(t.hour()),
        "minute" => Decimal::from(t.minute()),
        "second" => Decimal::new(micros_in_minute, 6),
        "millisecond" | "milliseconds" => Decimal::new(micros_in_minute, 3),
        "microsecond" | "microseconds" => Decimal::from(micros_in_minute),
        "epoch" => Decimal::new(t.and_utc().timestamp_micros(), 6),
        f => {
            return Err(EvalError::InvalidParameter(format!(
                "unit \"{f}\" not recognized"
            )))
        }
    }
    .normalize())
}

pub(super) fn date_trunc(unit: &str, d: &Datum) -> Result<Datum, EvalError> {
    let t = as_timestamp(d).ok_or_else(|| type_error("date_trunc", d))?;
    let date = t.date();
    let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).expect("midnight");
    let out = match unit.to_lowercase().as_str() {
        "year" => midnight(NaiveDate::from_ymd_opt(date.year(), 1, 1).expect("valid")),
        "quarter" => midnight(
            NaiveDate::from_ymd_opt(date.year(), (date.month() - 1) / 3 * 3 + 1, 1).expect("valid"),
        ),
        "month" => midnight(date.with_day(1).expect("day 1 exists")),
        "week" => {
            midnight(date - chrono::Duration::days(date.weekday().num_days_from_monday() as i64))
        }
        "day" => midnight(date),
        "hour" => t
            .with_minute(0)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_nanosecond(0))
            .expect("valid"),
        "minute" => t
            .with_second(0)
            .and_then(|t| t.with_nanosecond(0))
            .expect("valid"),
        "second" => t.with_nanosecond(0).expect("valid"),
        u => {
            return Err(EvalError::InvalidParameter(format!(
                "unit \"{u}\" not recognized"
            )))
        }
    };
    Ok(match d {
        Datum::TimestampTz(_) => Datum::TimestampTz(out.and_utc()),
        _ => Datum::Timestamp(out),
    })
}
