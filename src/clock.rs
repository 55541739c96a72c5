//! The one clock. `POOL_NOW` (RFC 3339 or YYYY-MM-DD) overrides it so time rules can be
//! tested and scripted; nothing else may call `Utc::now()` (see clippy.toml).
use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use crate::error::{Error, Result};

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

/// RFC 3339 ("2026-12-01T09:00:00+08:00") or a plain date (midnight UTC).
pub fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?))
}

/// Unix seconds → "2026-11-22 09:30" (UTC) for tables.
pub fn fmt_ts(ts: Option<i64>) -> String {
    match ts.and_then(|t| Utc.timestamp_opt(t, 0).single()) {
        Some(t) => t.format("%Y-%m-%d %H:%M").to_string(),
        None => String::new(),
    }
}

/// Unix seconds → RFC 3339 for JSON.
pub fn iso_ts(ts: Option<i64>) -> Option<String> {
    ts.and_then(|t| Utc.timestamp_opt(t, 0).single())
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}
