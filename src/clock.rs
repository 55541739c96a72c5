//! The one clock. `POOL_NOW` (RFC 3339 or YYYY-MM-DD) overrides it so time rules can be
//! tested and scripted; nothing else may call `Utc::now()` (see clippy.toml).
//!
//! And the one time zone: "today", the daily claim cap, the agenda, reports by day and
//! every printed time follow it. It is the team's or the pool's setting (`pool settings
//! set timezone Asia/Shanghai`), else `TZ`, else the system's zone, else UTC; set once
//! per process when the acting user is known.
use std::sync::{OnceLock, RwLock};

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::error::{Error, Result};

/// The configured zone, once the acting user's team is known.
static ZONE: RwLock<Option<Tz>> = RwLock::new(None);
static SYSTEM: OnceLock<Tz> = OnceLock::new();

/// An IANA zone name ("Asia/Shanghai", "UTC").
pub fn parse_zone(name: &str) -> Option<Tz> {
    name.trim().parse::<Tz>().ok()
}

/// The zone of this machine: `TZ` if it names an IANA zone, else the system's, else UTC.
pub fn system_zone() -> Tz {
    *SYSTEM.get_or_init(find_system_zone)
}

fn find_system_zone() -> Tz {
    std::env::var("TZ")
        .ok()
        .and_then(|t| parse_zone(t.trim_start_matches(':')))
        .or_else(|| {
            iana_time_zone::get_timezone()
                .ok()
                .and_then(|t| parse_zone(&t))
        })
        .unwrap_or(Tz::UTC)
}

/// Sets the zone for this process: the configured one, or None for the system's.
pub fn set_zone(tz: Option<Tz>) {
    if let Ok(mut z) = ZONE.write() {
        *z = tz;
    }
}

/// The zone days and printed times follow.
pub fn zone() -> Tz {
    ZONE.read()
        .ok()
        .and_then(|z| *z)
        .unwrap_or_else(system_zone)
}

/// The local date of an instant.
pub fn today_of(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&zone()).date_naive()
}

/// The instant a local date starts (its first valid local time; midnight but for a DST
/// jump at midnight).
pub fn start_of(d: NaiveDate) -> i64 {
    let tz = zone();
    (0..24)
        .find_map(|h| {
            tz.from_local_datetime(&d.and_hms_opt(h, 0, 0)?)
                .earliest()
                .map(|t| t.timestamp())
        })
        .unwrap_or_else(|| {
            d.and_hms_opt(0, 0, 0)
                .map_or(0, |t| t.and_utc().timestamp())
        })
}

/// Start of the local day the instant `ts` falls in (the daily claim cap's day).
pub fn day_start(ts: i64) -> i64 {
    match DateTime::from_timestamp(ts, 0) {
        Some(t) => start_of(today_of(t)),
        None => ts,
    }
}

/// A local date and time as an instant (the earliest, across a DST fold).
pub fn local_instant(t: &NaiveDateTime) -> Option<DateTime<Utc>> {
    zone()
        .from_local_datetime(t)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// Seconds the zone is ahead of UTC at `ts` (SQL that groups by day adds it).
pub fn offset_at(ts: i64) -> i64 {
    use chrono::Offset;
    zone()
        .offset_from_utc_datetime(
            &DateTime::from_timestamp(ts, 0)
                .unwrap_or_default()
                .naive_utc(),
        )
        .fix()
        .local_minus_utc() as i64
}

#[allow(clippy::disallowed_methods)]
pub fn now() -> Result<DateTime<Utc>> {
    match std::env::var("POOL_NOW") {
        Ok(s) if !s.trim().is_empty() => parse_instant(s.trim()).ok_or_else(|| {
            Error::invalid("POOL_NOW", format!("'{s}' is not RFC 3339 or YYYY-MM-DD"))
        }),
        _ => Ok(Utc::now()),
    }
}

/// Whether `POOL_NOW` sets the clock for this process.
pub fn is_simulated() -> bool {
    std::env::var_os("POOL_NOW").is_some_and(|s| !s.to_string_lossy().trim().is_empty())
}

/// The real time, whatever `POOL_NOW` says: audit rows carry it.
#[allow(clippy::disallowed_methods)]
pub fn real_now() -> i64 {
    Utc::now().timestamp()
}

/// RFC 3339 ("2026-12-01T09:00:00+08:00") or a plain date (local midnight).
pub fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    DateTime::from_timestamp(start_of(d), 0)
}

/// Unix seconds → "2026-11-22 09:30" (local time) for tables.
pub fn fmt_ts(ts: Option<i64>) -> String {
    match ts.and_then(|t| Utc.timestamp_opt(t, 0).single()) {
        Some(t) => t
            .with_timezone(&zone())
            .format("%Y-%m-%d %H:%M")
            .to_string(),
        None => String::new(),
    }
}

/// Unix seconds → RFC 3339 with the local offset for JSON ("Z" in UTC).
pub fn iso_ts(ts: Option<i64>) -> Option<String> {
    ts.and_then(|t| Utc.timestamp_opt(t, 0).single()).map(|t| {
        t.with_timezone(&zone())
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    })
}
