//! Dates people type: `2026-12-01`, `tomorrow`, `+3d`, `next monday`, 明天.
use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday,
};

use crate::error::{Error, Result};

/// A weekday in Chinese: 一 … 日/天 after 周, 星期 or 礼拜.
fn chinese_weekday(s: &str) -> Option<Weekday> {
    let rest = ["星期", "礼拜", "周"]
        .iter()
        .find_map(|p| s.strip_prefix(p))?;
    Some(match rest {
        "一" | "1" => Weekday::Mon,
        "二" | "2" => Weekday::Tue,
        "三" | "3" => Weekday::Wed,
        "四" | "4" => Weekday::Thu,
        "五" | "5" => Weekday::Fri,
        "六" | "6" => Weekday::Sat,
        "日" | "天" | "7" => Weekday::Sun,
        _ => return None,
    })
}

/// The Monday of the week `d` is in.
fn monday_of(d: NaiveDate) -> NaiveDate {
    d - Duration::days(d.weekday().num_days_from_monday() as i64)
}

/// `12-08`, `12/08`, `12月8日`, `12月8号`: the occurrence of that month and day nearest
/// to today (so in December, 01-05 is next January; in January, 12-20 is last December).
fn month_day(t: &str, today: NaiveDate) -> Option<NaiveDate> {
    let (m, d) = if let Some((m, rest)) = t.split_once('月') {
        (m, rest.trim_end_matches(['日', '号']))
    } else if let Some((m, d)) = t.split_once(['-', '/']) {
        (m, d)
    } else {
        return None;
    };
    let (m, d): (u32, u32) = (m.trim().parse().ok()?, d.trim().parse().ok()?);
    [today.year() - 1, today.year(), today.year() + 1]
        .into_iter()
        .filter_map(|y| NaiveDate::from_ymd_opt(y, m, d))
        .min_by_key(|c| (*c - today).num_days().abs())
}

/// A date and, optionally, a time of day: `tomorrow 15:00`, `周五 9:30`, `2026-12-08
/// 14:00`, `明天下午3点`.
pub fn parse_due(field: &str, s: &str, today: NaiveDate) -> Result<(NaiveDate, Option<NaiveTime>)> {
    let t = s.trim();
    let bad = || {
        Error::invalid(
            field,
            format!(
                "'{s}' is not a date and time (try tomorrow 15:00, 周五 9:30, 2026-12-08 14:00)"
            ),
        )
    };
    // "… HH:MM" at the end.
    if let Some((date, time)) = t.rsplit_once(char::is_whitespace) {
        if let Ok(tm) = NaiveTime::parse_from_str(time.trim(), "%H:%M") {
            return Ok((parse_date(field, date, today)?, Some(tm)));
        }
    }
    // 明天下午3点, 周五上午10点半, 后天15点.
    if let Some(pos) = t.find(['上', '下', '晚', '中']).or_else(|| {
        t.find(|c: char| c.is_ascii_digit())
            .filter(|_| t.ends_with('点') || t.ends_with("点半"))
    }) {
        let (date, time) = t.split_at(pos);
        if let Some(tm) = chinese_time(time) {
            let date = if date.is_empty() { "今天" } else { date };
            return Ok((parse_date(field, date, today)?, Some(tm)));
        }
        if t.ends_with('点') || t.ends_with("点半") {
            return Err(bad());
        }
    }
    Ok((parse_date(field, t, today)?, None))
}

/// 下午3点, 上午10点半, 晚上8点, 15点.
fn chinese_time(s: &str) -> Option<NaiveTime> {
    let (pm, rest) = if let Some(r) = s.strip_prefix("下午").or(s.strip_prefix("晚上")) {
        (true, r)
    } else if let Some(r) = s.strip_prefix("上午").or(s.strip_prefix("早上")) {
        (false, r)
    } else if let Some(r) = s.strip_prefix("中午") {
        (false, r)
    } else {
        (false, s)
    };
    let (hour, half) = if let Some(h) = rest.strip_suffix("点半") {
        (h, true)
    } else {
        (rest.strip_suffix('点')?, false)
    };
    let mut h: u32 = hour.trim().parse().ok()?;
    if pm && h < 12 {
        h += 12;
    }
    NaiveTime::from_hms_opt(h, if half { 30 } else { 0 }, 0)
}

/// A due date relative to `today`.
pub fn parse_date(field: &str, s: &str, today: NaiveDate) -> Result<NaiveDate> {
    let t = s.trim().to_lowercase();
    let bad = || {
        Error::invalid(
            field,
            format!("'{s}' is not a date (try 2026-12-01, 12-08, 12月8日, today, tomorrow, 后天, 周五, 下周一, +3d, +2w, next monday)"),
        )
    };
    match t.as_str() {
        "today" | "今天" | "今日" => return Ok(today),
        "tomorrow" | "明天" | "明日" => return Ok(today + Duration::days(1)),
        "后天" => return Ok(today + Duration::days(2)),
        "大后天" => return Ok(today + Duration::days(3)),
        "yesterday" | "昨天" => return Ok(today - Duration::days(1)),
        "前天" => return Ok(today - Duration::days(2)),
        _ => {}
    }
    // 下周一: that day of next week; 本周五/这周五: of this week; 周五: the next one.
    for (prefix, weeks) in [
        ("下下周", 2),
        ("下周", 1),
        ("下个", 1),
        ("本周", 0),
        ("这周", 0),
        ("上周", -1),
    ] {
        if let Some(w) = t.strip_prefix(prefix).and_then(|r| {
            chinese_weekday(&format!("周{}", r.trim_start_matches(['周', '星', '期'])))
        }) {
            return Ok(
                monday_of(today) + Duration::days(7 * weeks + w.num_days_from_monday() as i64)
            );
        }
    }
    if let Some(w) = chinese_weekday(&t) {
        let ahead =
            (w.num_days_from_monday() as i64 - today.weekday().num_days_from_monday() as i64 + 7)
                % 7;
        return Ok(today + Duration::days(if ahead == 0 { 7 } else { ahead }));
    }
    // 3天后, 2周后.
    if let Some(n) = t.strip_suffix("天后").and_then(|n| n.parse::<i64>().ok()) {
        if (0..=3650).contains(&n) {
            return Ok(today + Duration::days(n));
        }
    }
    if let Some(n) = t
        .strip_suffix("周后")
        .or(t.strip_suffix("星期后"))
        .and_then(|n| n.parse::<i64>().ok())
    {
        if (0..=520).contains(&n) {
            return Ok(today + Duration::days(7 * n));
        }
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
    for fmt in [
        "%Y-%m-%d",
        "%Y/%m/%d",
        "%Y.%m.%d",
        "%Y%m%d",
        "%Y年%m月%d日",
        "%Y年%m月%d号",
    ] {
        if let Ok(d) = NaiveDate::parse_from_str(&t, fmt) {
            return Ok(d);
        }
    }
    month_day(&t, today).ok_or_else(bad)
}

/// A due date (and time) must not be in the past unless the user says so (`--past`,
/// back-filling a plan).
pub fn check_not_past(
    field: &str,
    due: (NaiveDate, Option<NaiveTime>),
    now: NaiveDateTime,
    past: bool,
) -> Result<()> {
    let passed = match due.1 {
        Some(t) => due.0.and_time(t) < now,
        None => due.0 < now.date(),
    };
    if passed && !past {
        return Err(Error::invalid_hint(
            field,
            format!(
                "{}{} is in the past",
                due.0,
                due.1
                    .map(|t| t.format(" %H:%M").to_string())
                    .unwrap_or_default()
            ),
            "give a date from today on, or add --past to plan it overdue on purpose",
        ));
    }
    Ok(())
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
    fn dates_chinese_teams_type() {
        let today = d("2026-11-25"); // a Wednesday
        let p = |s: &str| parse_date("due", s, today).unwrap();
        assert_eq!(p("后天"), d("2026-11-27"));
        assert_eq!(p("大后天"), d("2026-11-28"));
        assert_eq!(p("周五"), d("2026-11-27"));
        assert_eq!(p("星期五"), d("2026-11-27"));
        assert_eq!(p("周三"), d("2026-12-02"), "today excluded, as in English");
        assert_eq!(p("下周一"), d("2026-11-30"));
        assert_eq!(p("下周五"), d("2026-12-04"));
        assert_eq!(p("本周五"), d("2026-11-27"));
        assert_eq!(p("周日"), d("2026-11-29"));
        assert_eq!(p("12-08"), d("2026-12-08"));
        assert_eq!(p("12/8"), d("2026-12-08"));
        assert_eq!(p("12月8日"), d("2026-12-08"));
        assert_eq!(p("12月8号"), d("2026-12-08"));
        assert_eq!(p("2026年12月8日"), d("2026-12-08"));
        assert_eq!(p("3天后"), d("2026-11-28"));
        assert_eq!(p("2周后"), d("2026-12-09"));
        // The nearest occurrence: in late November, 01-05 is next January.
        assert_eq!(p("01-05"), d("2027-01-05"));
        assert_eq!(parse_date("d", "11-20", today).unwrap(), d("2026-11-20"));
        assert!(parse_date("due", "13月1日", today).is_err());
        assert!(parse_date("due", "02-30", today).is_err());
        assert!(parse_date("due", "周八", today).is_err());
    }

    #[test]
    fn due_with_a_time_of_day() {
        let today = d("2026-11-25");
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        let p = |s: &str| parse_due("due", s, today).unwrap();
        assert_eq!(p("tomorrow 15:00"), (d("2026-11-26"), Some(t(15, 0))));
        assert_eq!(p("周五 9:30"), (d("2026-11-27"), Some(t(9, 30))));
        assert_eq!(p("2026-12-08 14:00"), (d("2026-12-08"), Some(t(14, 0))));
        assert_eq!(p("明天下午3点"), (d("2026-11-26"), Some(t(15, 0))));
        assert_eq!(p("后天上午10点半"), (d("2026-11-27"), Some(t(10, 30))));
        assert_eq!(p("下午3点"), (today, Some(t(15, 0))));
        assert_eq!(p("12月8日"), (d("2026-12-08"), None));
        assert!(parse_due("due", "tomorrow 25:00", today).is_err());
        assert!(parse_due("due", "明天下午13点半点", today).is_err());
    }

    #[test]
    fn a_past_due_needs_past() {
        let now = d("2026-11-25").and_hms_opt(10, 0, 0).unwrap();
        let t = |h| Some(NaiveTime::from_hms_opt(h, 0, 0).unwrap());
        assert!(check_not_past("--due", (d("2026-11-24"), None), now, false).is_err());
        assert!(check_not_past("--due", (d("2026-11-24"), None), now, true).is_ok());
        assert!(check_not_past("--due", (d("2026-11-25"), None), now, false).is_ok());
        assert!(check_not_past("--due", (d("2026-11-25"), t(9)), now, false).is_err());
        assert!(check_not_past("--due", (d("2026-11-25"), t(11)), now, false).is_ok());
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
