//! Exact money: amounts are integer minor units (fen, cents); never floats.
use crate::error::{Error, Result};

/// "12000.50", "12,000.5", "¥12000" → 1_200_050 minor units (2 decimals).
pub fn parse_amount(s: &str) -> Result<i64> {
    let bad = |why: &str| Error::invalid("amount", format!("'{s}' {why}"));
    let t: String = s
        .trim()
        .trim_start_matches(['¥', '$', '€', '£', '￥'])
        .chars()
        .filter(|c| *c != ',' && *c != '_' && !c.is_whitespace())
        .collect();
    let (whole, frac) = match t.split_once('.') {
        Some((w, f)) => (w, f),
        None => (t.as_str(), ""),
    };
    if whole.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(bad("is not an amount like 12000.50"));
    }
    if frac.len() > 2 {
        return Err(bad("has more than 2 decimals"));
    }
    let whole: i64 = whole.parse().map_err(|_| bad("is too large"))?;
    let frac_minor: i64 = format!("{frac:0<2}")
        .parse()
        .map_err(|_| bad("is not an amount"))?;
    whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(frac_minor))
        .ok_or_else(|| bad("is too large"))
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
    }
}
