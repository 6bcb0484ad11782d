//! What the load generators generate: the rows of the ratings demo (ratings and a customers
//! change feed), card authorizations with fraud bursts, and syslog lines.
//!
//! Each event is a function of the seed and its index alone (its own random stream, seeded by
//! both), so any range can be generated without the ones before it, a restart continues exactly
//! where the log stopped, and a test can recompute what a seed produces. The one exception is
//! the customers feed, whose changes depend on which customers exist: it is generated from that
//! state, which the log holds.

use std::collections::HashMap;

use chrono::DateTime;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use rust_decimal::Decimal;

use crate::repr::{Datum, Row};

/// The random stream of event `index` of stream `tag` under `seed`.
fn rng(seed: u64, tag: u64, index: u64) -> Pcg64Mcg {
    // splitmix64's finalizer: nearby indices get unrelated seeds.
    let mut z = seed
        .wrapping_add(tag.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(index.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    Pcg64Mcg::seed_from_u64(z ^ (z >> 31))
}

fn pick<'a>(r: &mut Pcg64Mcg, from: &[&'a str]) -> &'a str {
    from[r.random_range(0..from.len())]
}

fn text(s: impl Into<String>) -> Datum {
    Datum::String(s.into())
}

/// Milliseconds since the epoch as a `timestamp`.
pub fn timestamp(ms: i64) -> Datum {
    DateTime::from_timestamp_millis(ms).map_or(Datum::Null, |t| Datum::Timestamp(t.naive_utc()))
}

const RATINGS: u64 = 1;
const CUSTOMERS: u64 = 2;
const AUTHORIZATIONS: u64 = 3;
const FRAUD: u64 = 4;
const CARDS: u64 = 5;
const SYSLOG: u64 = 6;
const CUSTOMER_FIELDS: u64 = 7;
const CUSTOMER_DELETES: u64 = 8;

const CHANNELS: &[&str] = &["iOS", "Android", "web", "iOS-test", "Android-test"];
const MESSAGES: &[&str] = &[
    "the crew made the delay bearable, thanks",
    "seat 14C does not recline at all",
    "boarding was chaos again",
    "great landing, smooth flight",
    "why does the wifi never work on this route",
    "lounge coffee was cold",
    "friendly staff at the gate today",
    "lost my bag for the second time this year",
    "on time, clean cabin, no complaints",
    "the app crashed while I was checking in",
];
const FIRST_NAMES: &[&str] = &[
    "Ada", "Bruno", "Chiara", "Dmitri", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kemi",
    "Luca", "Maya", "Nils", "Oona", "Pavel", "Quinn", "Rosa", "Sami", "Tove",
];
const LAST_NAMES: &[&str] = &[
    "Abara", "Berg", "Costa", "Dahl", "Eze", "Fischer", "Gallo", "Holm", "Ivanova", "Jensen",
    "Kowalski", "Lund", "Moreau", "Novak", "Okafor", "Perez", "Rossi", "Sato", "Tanaka", "Weber",
];
const GENDERS: &[&str] = &["female", "male", "non-binary"];
const CLUB_STATUSES: &[&str] = &["bronze", "silver", "gold", "platinum"];
const COMMENTS: &[&str] = &[
    "prefers aisle seats",
    "frequent weekend traveller",
    "complained about baggage fees",
    "upgraded twice this year",
    "travels with a service dog",
    "",
];

/// Rating `index` (0-based): `rating_id, user_id, stars, route_id, rating_time, channel,
/// message`, at event time `at_ms`, from a customer in `1..=customers`.
pub fn rating(seed: u64, index: u64, customers: u64, at_ms: i64) -> Row {
    let r = &mut rng(seed, RATINGS, index);
    vec![
        Datum::Int64(index as i64 + 1),
        Datum::Int32(r.random_range(1..=customers.max(1)) as i32),
        // Unhappy customers are common enough to be seen: stars 1..4, as in the ksqlDB demo.
        Datum::Int32(r.random_range(1..=4)),
        Datum::Int32(r.random_range(1..=9999)),
        timestamp(at_ms),
        text(pick(r, CHANNELS)),
        text(pick(r, MESSAGES)),
    ]
}

/// A customer with id `id`, drawn from event `index`'s stream: `id, first_name, last_name,
/// email, gender, club_status, comments`.
fn customer(seed: u64, index: u64, id: i32) -> Row {
    // Not the stream the id was drawn from: a customer's fields do not follow from its id.
    let r = &mut rng(seed, CUSTOMER_FIELDS, index);
    let (first, last) = (pick(r, FIRST_NAMES), pick(r, LAST_NAMES));
    let domain = pick(r, &["example.com", "example.org", "example.net"]);
    vec![
        Datum::Int32(id),
        text(first),
        text(last),
        text(format!(
            "{}.{}{id}@{domain}",
            first.to_lowercase(),
            last.to_lowercase()
        )),
        text(pick(r, GENDERS)),
        text(pick(r, CLUB_STATUSES)),
        text(pick(r, COMMENTS)),
    ]
}

/// The customers change feed: events `0..customers` insert customers `1..=customers`; each
/// later event changes a random customer: an update (85%) or a delete (15%) if it exists, an
/// insert again if it was deleted. `current` is the feed's state, by id; the changes are
/// returned as (row, diff) and applied to it.
pub fn customer_change(
    seed: u64,
    index: u64,
    customers: u64,
    current: &mut HashMap<i32, Row>,
) -> Vec<(Row, i64)> {
    let id = if index < customers {
        index as i32 + 1
    } else {
        rng(seed, CUSTOMERS, index).random_range(1..=customers.max(1)) as i32
    };
    let delete = index >= customers && rng(seed, CUSTOMER_DELETES, index).random_bool(0.15);
    let mut changes = vec![];
    match current.remove(&id) {
        Some(old) if delete => changes.push((old, -1)),
        old => {
            if let Some(old) = old {
                changes.push((old, -1));
            }
            let new = customer(seed, index, id);
            current.insert(id, new.clone());
            changes.push((new, 1));
        }
    }
    changes
}

/// The number `k` card of a pool: 16 digits, stable for the seed.
fn card(seed: u64, k: u64) -> String {
    let r = &mut rng(seed, CARDS, k);
    format!("4{:015}", r.random_range(0..1_000_000_000_000_000u64))
}

/// Authorizations come in blocks of this many events; in some blocks one card is being abused.
const FRAUD_BLOCK: u64 = 40;

/// Authorization attempt `index`: `auth_id, card_number, merchant, amount, success,
/// auth_time`. A quarter of the blocks of 40 events hold a burst: one card tried 5 times within
/// 20 events (2 s at 10 events/s), mostly declined, the pattern `HAVING COUNT(*) > 3` catches.
pub fn authorization(seed: u64, index: u64, cards: u64, at_ms: i64) -> Row {
    let cards = cards.max(1);
    let (block, pos) = (index / FRAUD_BLOCK, index % FRAUD_BLOCK);
    let b = &mut rng(seed, FRAUD, block);
    let burst = b.random_bool(0.25).then(|| {
        let start = b.random_range(0..FRAUD_BLOCK - 20);
        (b.random_range(0..cards), start, start + 20)
    });
    let r = &mut rng(seed, AUTHORIZATIONS, index);
    // Within the burst's 20 events, every fourth is the abused card's (5 attempts).
    let abused = burst.filter(|(_, from, to)| (*from..*to).contains(&pos) && (pos - from) % 4 == 0);
    let (card_k, success) = match abused {
        Some((k, ..)) => (k, r.random_bool(0.3)),
        None => (r.random_range(0..cards), r.random_bool(0.97)),
    };
    let merchants = [
        "grocer",
        "fuel",
        "airline",
        "electronics",
        "pharmacy",
        "cafe",
        "online",
    ];
    vec![
        Datum::Int64(index as i64 + 1),
        text(card(seed, card_k)),
        text(pick(r, &merchants)),
        // Normalized, as every numeric Runnel holds (281.6, not 281.60).
        Datum::Numeric(Decimal::new(r.random_range(100..50_000), 2).normalize()),
        Datum::Bool(success),
        timestamp(at_ms),
    ]
}

/// Syslog line `index`: `ts, host, app, pid, severity, message`. About one sshd line in six
/// is an `Invalid user` probe, what a `LIKE '%Invalid user%'` filter looks for.
pub fn syslog(seed: u64, index: u64, at_ms: i64) -> Row {
    let r = &mut rng(seed, SYSLOG, index);
    let host = pick(r, &["web-01", "web-02", "db-01", "bastion"]);
    let ip = format!("203.0.113.{}", r.random_range(1..255));
    let port = r.random_range(1024..65535);
    let user = pick(r, &["admin", "oracle", "test", "ubuntu", "pi", "git"]);
    let (app, severity, message) = match r.random_range(0..10) {
        0..=4 => match r.random_range(0..6) {
            0 => (
                "sshd",
                "warning",
                format!("Invalid user {user} from {ip} port {port}"),
            ),
            1 | 2 => (
                "sshd",
                "info",
                format!("Accepted publickey for deploy from {ip} port {port} ssh2"),
            ),
            3 => (
                "sshd",
                "info",
                format!("Failed password for {user} from {ip} port {port} ssh2"),
            ),
            _ => (
                "sshd",
                "info",
                format!("Connection closed by {ip} port {port} [preauth]"),
            ),
        },
        5 | 6 => (
            "CRON",
            "info",
            "pam_unix(cron:session): session opened for user root".to_string(),
        ),
        7 | 8 => (
            "nginx",
            "notice",
            format!("GET /api/v1/health 200 from {ip}"),
        ),
        _ => (
            "kernel",
            "warning",
            format!("TCP: request_sock_TCP: Possible SYN flooding on port {port}"),
        ),
    };
    vec![
        timestamp(at_ms),
        text(host),
        text(app),
        Datum::Int32(r.random_range(300..40_000)),
        text(severity),
        text(message),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_depend_on_seed_and_index_only() {
        assert_eq!(rating(7, 42, 100, 0), rating(7, 42, 100, 0));
        assert_ne!(rating(7, 42, 100, 0), rating(8, 42, 100, 0));
        assert_ne!(rating(7, 42, 100, 0), rating(7, 43, 100, 0));
        assert_eq!(authorization(1, 5, 10, 0), authorization(1, 5, 10, 0));
        assert_eq!(syslog(1, 5, 0), syslog(1, 5, 0));
    }

    #[test]
    fn customers_feed_inserts_then_changes_existing_rows() {
        let mut current = HashMap::new();
        let mut live: HashMap<Row, i64> = HashMap::new();
        let (mut updates, mut deletes) = (0, 0);
        for i in 0..2_000 {
            let changes = customer_change(3, i, 50, &mut current);
            if i < 50 {
                assert_eq!(changes.len(), 1, "the snapshot only inserts");
            }
            let retracted = changes.iter().filter(|(_, d)| *d < 0).count();
            match (retracted, changes.len()) {
                (1, 2) => updates += 1,
                (1, 1) => deletes += 1,
                _ => {}
            }
            for (row, d) in changes {
                *live.entry(row).or_default() += d;
            }
        }
        live.retain(|_, n| *n != 0);
        // Every retraction matched a live row, and what is left is exactly the state.
        assert!(live.values().all(|n| *n == 1));
        assert_eq!(live.len(), current.len());
        assert!(
            updates > 1_000 && deletes > 100,
            "{updates} updates, {deletes} deletes"
        );
    }

    #[test]
    fn some_cards_are_abused_in_bursts() {
        let mut per_block_max = 0;
        for block in 0..50 {
            let mut counts: HashMap<String, usize> = HashMap::new();
            for i in block * FRAUD_BLOCK..(block + 1) * FRAUD_BLOCK {
                let Datum::String(c) = &authorization(9, i, 1_000, 0)[1] else {
                    panic!("card is text")
                };
                *counts.entry(c.clone()).or_default() += 1;
            }
            per_block_max = per_block_max.max(*counts.values().max().unwrap_or(&0));
        }
        assert!(per_block_max >= 5);
    }
}
