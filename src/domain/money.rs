//! Exact money: amounts are integer minor units (fen, cents); never floats.
use crate::error::{Error, Result};

/// The largest amount one deal may have: 1,000,000,000,000.00 (a trillion), in minor
/// units. Far beyond any real deal, and small enough that sums of any number of deals
/// a database can hold fit in an i128 (and per-part sums in SQLite's i64).
pub const MAX_AMOUNT_MINOR: i64 = 100_000_000_000_000;

/// "12000.50", "12,000.5", "¥12000" → 1_200_050 minor units (2 decimals).
///
/// Only well-formed amounts: digits, optionally grouped by commas in threes
/// ("12,000.50"), and up to two decimals after a dot. "12,50" (a decimal comma),
/// "1,2,3", ",5", "_5", "5." and anything over `MAX_AMOUNT_MINOR` are refused, never
/// guessed at.
pub fn parse_amount(s: &str) -> Result<i64> {
    let hint = "write the amount with a dot for decimals and commas only between groups of \
                three digits, e.g. 12000.50 or 12,000.50";
    let bad = |why: &str| Error::invalid_hint("amount", format!("'{s}' {why}"), hint);
    let t = s
        .trim()
        .trim_start_matches(['¥', '$', '€', '£', '￥'])
        .trim();
    let (whole, frac) = match t.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (t, None),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit() || b == b',') {
        return Err(bad("is not an amount like 12000.50"));
    }
    if whole.contains(',') {
        let mut groups = whole.split(',');
        let first = groups.next().unwrap_or("");
        let grouped = (1..=3).contains(&first.len()) && groups.all(|g| g.len() == 3);
        if !grouped {
            return Err(bad(
                "has commas that are not thousands separators (groups of three digits)",
            ));
        }
    }
    let frac = match frac {
        None => "",
        Some("") => return Err(bad("ends with a dot")),
        Some(f) if !f.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(bad("is not an amount like 12000.50"))
        }
        Some(f) if f.len() > 2 => return Err(bad("has more than 2 decimals")),
        Some(f) => f,
    };
    let digits: String = whole.chars().filter(|c| *c != ',').collect();
    let too_large = || {
        bad(&format!(
            "is more than the largest amount, {}",
            format_amount(MAX_AMOUNT_MINOR)
        ))
    };
    // More digits than any allowed amount: too large (and no overflow on the way).
    if digits.trim_start_matches('0').len() > 13 {
        return Err(too_large());
    }
    let whole: i64 = digits.parse().map_err(|_| too_large())?;
    let frac_minor: i64 = format!("{frac:0<2}")
        .parse()
        .map_err(|_| bad("is not an amount"))?;
    let minor = whole * 100 + frac_minor;
    if minor > MAX_AMOUNT_MINOR {
        return Err(too_large());
    }
    Ok(minor)
}

/// Exact sums of amounts per currency, never mixing currencies: any number of deals
/// at `MAX_AMOUNT_MINOR` fits an i128.
pub type Totals = std::collections::BTreeMap<String, i128>;

/// "1000.50 CNY; 20.00 USD" (currencies in order), or "0.00" when there is nothing.
pub fn format_totals(t: &Totals) -> String {
    if t.values().all(|v| *v == 0) {
        return "0.00".into();
    }
    t.iter()
        .filter(|(_, v)| **v != 0)
        .map(|(c, v)| format!("{} {c}", format_wide(*v)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Like `format_amount`, for sums.
pub fn format_wide(minor: i128) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    format!("{sign}{}.{:02}", m / 100, m % 100)
}

/// 1_200_050 → "12000.50"
pub fn format_amount(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    format!("{sign}{}.{:02}", m / 100, m % 100)
}

/// ISO 4217-looking: three ASCII letters, upper-cased.
pub fn parse_currency(s: &str) -> Result<String> {
    let t = s.trim().to_uppercase();
    if t.len() == 3 && t.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(t)
    } else {
        Err(Error::invalid(
            "currency",
            format!("'{s}' is not a 3-letter code like CNY"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn exact_amounts() {
        assert_eq!(parse_amount("12000.50").unwrap(), 1_200_050);
        assert_eq!(parse_amount("12,000.5").unwrap(), 1_200_050);
        assert_eq!(parse_amount("1,234,567").unwrap(), 123_456_700);
        assert_eq!(parse_amount(" ￥ 8 ").unwrap(), 800);
        for bad in [
            "12,50", "1,2,3", ",5", "_5", "5_000", "1,0000", "1234,567", "5.", ".5", "1.2.3",
            "12 000", "",
        ] {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_amount("1,000,000,000,000.00").unwrap(),
            MAX_AMOUNT_MINOR
        );
        assert!(parse_amount("1000000000000.01").is_err());
        assert!(parse_amount("00000000000000000000001").is_ok());
        assert_eq!(parse_amount("¥3").unwrap(), 300);
        assert_eq!(parse_amount("0.07").unwrap(), 7);
        assert!(parse_amount("1.005").is_err());
        assert!(parse_amount("-5").is_err());
        assert!(parse_amount("abc").is_err());
        assert!(parse_amount("99999999999999999999").is_err());
        assert_eq!(format_amount(1_200_050), "12000.50");
        assert_eq!(parse_currency("cny").unwrap(), "CNY");
        assert!(parse_currency("yuan").is_err());
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(minor in 0i64..1_000_000_000_000) {
            prop_assert_eq!(parse_amount(&format_amount(minor)).unwrap(), minor);
        }

        #[test]
        fn parse_never_panics(s in ".*") {
            let _ = parse_amount(&s);
        }

        #[test]
        fn thousands_groups_parse_like_plain_digits(minor in 0i64..=MAX_AMOUNT_MINOR) {
            let plain = format_amount(minor);
            let (whole, frac) = plain.split_once('.').unwrap();
            let mut grouped = String::new();
            for (i, c) in whole.chars().enumerate() {
                if i > 0 && (whole.len() - i) % 3 == 0 {
                    grouped.push(',');
                }
                grouped.push(c);
            }
            prop_assert_eq!(parse_amount(&format!("{grouped}.{frac}")).unwrap(), minor);
        }
    }
}
