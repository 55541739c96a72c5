//! Dates people type: `2026-12-01`, `tomorrow`, `+3d`, `next monday`, 明天.
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday};

use crate::error::{Error, Result};

/// A due date relative to `today`.
pub fn parse_date(field: &str, s: &str, today: NaiveDate) -> Result<NaiveDate> {
    let t = s.trim().to_lowercase();
    let bad = || {
        Error::invalid(
            field,
            format!("'{s}' is not a date (try 2026-12-01, today, tomorrow, +3d, +2w, next monday)"),
        )
    };
    match t.as_str() {
        "today" | "今天" => return Ok(today),
        "tomorrow" | "明天" => return Ok(today + Duration::days(1)),
        "后天" => return Ok(today + Duration::days(2)),
        "yesterday" | "昨天" => return Ok(today - Duration::days(1)),
        _ => {}
    }
    if let Some(rest) = t.strip_prefix('+') {
        let (num, unit) = rest.split_at(
            rest.find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len()),
        );
        let n: i64 = num.parse().map_err(|_| bad())?;
        if n > 3650 {
            return Err(bad());
        }
        let days = match unit {
            "" | "d" | "day" | "days" => n,
            "w" | "week" | "weeks" => n * 7,
            _ => return Err(bad()),
        };
        return Ok(today + Duration::days(days));
    }
    let weekday = |w: &str| -> Option<Weekday> {
        Some(match w {
            "monday" | "mon" => Weekday::Mon,
            "tuesday" | "tue" => Weekday::Tue,
            "wednesday" | "wed" => Weekday::Wed,
            "thursday" | "thu" => Weekday::Thu,
            "friday" | "fri" => Weekday::Fri,
            "saturday" | "sat" => Weekday::Sat,
            "sunday" | "sun" => Weekday::Sun,
            _ => return None,
        })
    };
    let name = t.strip_prefix("next ").unwrap_or(&t);
    if let Some(w) = weekday(name) {
        // The next such day strictly after today.
        let ahead =
            (w.num_days_from_monday() as i64 - today.weekday().num_days_from_monday() as i64 + 7)
                % 7;
        return Ok(today + Duration::days(if ahead == 0 { 7 } else { ahead }));
    }
    for fmt in ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(&t, fmt) {
            return Ok(d);
        }
    }
    Err(bad())
}

/// An instant people type for "when did it happen": RFC 3339, `2026-11-20 14:30`, or any
/// date `parse_date` takes (then at the current time of day, so "yesterday" is 24 h ago).
pub fn parse_when(field: &str, s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    if let Some(t) = crate::clock::parse_instant(s.trim()).filter(|_| s.contains('T')) {
        return Ok(t);
    }
    for fmt in ["%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s.trim(), fmt) {
            if let Some(t) = crate::clock::local_instant(&t) {
                return Ok(t);
            }
        }
    }
    let local = now.with_timezone(&crate::clock::zone());
    let d = parse_date(field, s, local.date_naive())?;
    Ok(crate::clock::local_instant(&d.and_time(local.time()))
        .unwrap_or_else(|| Utc.from_utc_datetime(&d.and_time(now.time()))))
}

/// How far back a date of something that happened may go (10 years), and how far
/// ahead a plan may be made (10 years). Beyond these a date is a typo (1970, 2099).
pub const MAX_PAST_DAYS: i64 = 3650;
pub const MAX_AHEAD_DAYS: i64 = 3650;
/// A follow-up may be planned this far in the past (back-filling last month's plan).
pub const MAX_OVERDUE_DAYS: i64 = 365;

/// `d` if it lies within `earliest..=latest`, else a clear error naming the range.
pub fn within(
    field: &str,
    d: NaiveDate,
    earliest: NaiveDate,
    latest: NaiveDate,
) -> Result<NaiveDate> {
    if d < earliest || d > latest {
        return Err(Error::invalid_hint(
            field,
            format!("{d} is outside {earliest} .. {latest}"),
            format!("give a date from {earliest} to {latest}"),
        ));
    }
    Ok(d)
}

/// A due date for planned work: up to a year overdue, up to ten years ahead.
pub fn check_due(field: &str, d: NaiveDate, today: NaiveDate) -> Result<NaiveDate> {
    within(
        field,
        d,
        today - Duration::days(MAX_OVERDUE_DAYS),
        today + Duration::days(MAX_AHEAD_DAYS),
    )
}

/// The date of something that happened: not in the future, not more than ten years ago.
pub fn check_past(field: &str, d: NaiveDate, today: NaiveDate) -> Result<NaiveDate> {
    within(field, d, today - Duration::days(MAX_PAST_DAYS), today)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn relative_and_absolute_dates() {
        let today = d("2026-11-22"); // a Sunday
        assert_eq!(
            parse_date("due", "2026-12-01", today).unwrap(),
            d("2026-12-01")
        );
        assert_eq!(
            parse_date("due", "2026/12/01", today).unwrap(),
            d("2026-12-01")
        );
        assert_eq!(
            parse_date("due", "tomorrow", today).unwrap(),
            d("2026-11-23")
        );
        assert_eq!(parse_date("due", "明天", today).unwrap(), d("2026-11-23"));
        assert_eq!(parse_date("due", "+3d", today).unwrap(), d("2026-11-25"));
        assert_eq!(parse_date("due", "+2w", today).unwrap(), d("2026-12-06"));
        assert_eq!(
            parse_date("due", "next monday", today).unwrap(),
            d("2026-11-23")
        );
        assert_eq!(parse_date("due", "sunday", today).unwrap(), d("2026-11-29"));
        assert!(parse_date("due", "someday", today).is_err());
        assert!(parse_date("due", "+3x", today).is_err());
        assert!(parse_date("due", "2026-02-30", today).is_err());
    }

    #[test]
    fn instants() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
        assert_eq!(
            parse_when("at", "2026-11-20 14:30", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 20, 14, 30, 0).unwrap()
        );
        assert_eq!(
            parse_when("at", "yesterday", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0).unwrap()
        );
        assert_eq!(
            parse_when("at", "2026-11-20T10:00:00+08:00", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 20, 2, 0, 0).unwrap()
        );
    }

    #[test]
    fn absurd_dates_are_refused() {
        let today = d("2026-11-22");
        assert!(check_due("--due", d("1970-01-01"), today).is_err());
        assert!(check_due("--due", d("2099-01-01"), today).is_err());
        assert!(check_due("--due", d("2026-11-01"), today).is_ok());
        assert!(check_due("--due", d("2027-06-01"), today).is_ok());
        assert!(check_past("--on", d("2099-01-01"), today).is_err());
        assert!(check_past("--on", d("2026-11-23"), today).is_err());
        assert!(check_past("--on", d("1900-01-01"), today).is_err());
        assert!(check_past("--on", d("2026-11-22"), today).is_ok());
        let e = check_past("--on", d("1900-01-01"), today).unwrap_err();
        assert_eq!(e.exit_code(), 6);
        assert!(e.to_string().contains("2016-11-24 .. 2026-11-22"), "{e}");
    }
}
