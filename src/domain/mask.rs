//! Masking (脱敏) of personal data, in one place: what viewers, members looking at the
//! pool, and exports without `--unmasked` see.

/// "13800138000" → "138****8000"; "+86 138 0013 8000" → "+86 138****8000"; other
/// lengths keep the first ceil(n/4) and last floor(n/4) digits. At most 7 digits show.
pub fn mask_phone(raw: &str) -> String {
    let digits: Vec<char> = raw.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() {
        return String::new();
    }
    let s: String = digits.iter().collect();
    let prefixed = raw.trim_start().starts_with('+') || raw.trim_start().starts_with("00");
    // A Chinese mobile with its country code: keep the code, mask the number.
    if s.len() == 13 && s.starts_with("861") {
        return format!("+86 {}****{}", &s[2..5], &s[9..]);
    }
    if s.len() == 11 && !prefixed {
        return format!("{}****{}", &s[..3], &s[7..]);
    }
    let n = digits.len();
    if n <= 4 {
        return "*".repeat(n.max(4));
    }
    let head = n.div_ceil(4).min(4);
    let tail = (n / 4).min(3);
    let stars = n - head - tail;
    format!(
        "{}{}{}{}",
        if prefixed { "+" } else { "" },
        digits[..head].iter().collect::<String>(),
        "*".repeat(stars),
        digits[n - tail..].iter().collect::<String>()
    )
}

/// "lihua@qq.com" → "l***@qq.com". Without an '@': "***".
pub fn mask_email(raw: &str) -> String {
    match raw.trim().split_once('@') {
        Some((local, domain)) if !local.is_empty() => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        _ => "***".into(),
    }
}

/// Keeps the address up to its district (区, 县, 旗, or 市 after a 省) and hides the rest:
/// "浙江省杭州市西湖区文三路90号" → "浙江省杭州市西湖区***". English "12 Baker Street,
/// London" keeps the last comma part: "***, London". Otherwise the first third.
pub fn mask_address(raw: &str) -> String {
    let chars: Vec<char> = raw.trim().chars().collect();
    if chars.is_empty() {
        return String::new();
    }
    let after_province = chars
        .iter()
        .position(|c| *c == '省')
        .map(|p| p + 1)
        .unwrap_or(0);
    let cut = chars
        .iter()
        .enumerate()
        .find(|(i, c)| {
            matches!(c, '区' | '县' | '旗')
                || (**c == '市'
                    && *i >= after_province
                    && after_province > 0
                    && !chars[*i + 1..]
                        .iter()
                        .any(|c| matches!(c, '区' | '县' | '旗')))
        })
        .map(|(i, _)| i + 1);
    if let Some(cut) = cut.filter(|c| *c < chars.len()) {
        return format!("{}***", chars[..cut].iter().collect::<String>());
    }
    if let Some(pos) = raw.rfind(',') {
        let last = raw[pos + 1..].trim();
        if !last.is_empty() && last.chars().count() < chars.len() {
            return format!("***, {last}");
        }
    }
    let keep = chars.len() / 3;
    format!("{}***", chars[..keep].iter().collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn phones() {
        assert_eq!(mask_phone("13800138000"), "138****8000");
        assert_eq!(mask_phone("138 0013 8000"), "138****8000");
        assert_eq!(mask_phone("+86 138 0013 8000"), "+86 138****8000");
        assert_eq!(mask_phone("8613800138000"), "+86 138****8000");
        assert_eq!(mask_phone("0571-88886666"), "057******666");
        assert_eq!(mask_phone("+44 20 7946 0958"), "+442******958");
        assert_eq!(mask_phone("123"), "****");
        assert_eq!(mask_phone(""), "");
    }

    #[test]
    fn emails_and_addresses() {
        assert_eq!(mask_email("lihua@qq.com"), "l***@qq.com");
        assert_eq!(mask_email("nope"), "***");
        assert_eq!(
            mask_address("浙江省杭州市西湖区文三路90号"),
            "浙江省杭州市西湖区***"
        );
        assert_eq!(
            mask_address("上海市浦东新区世纪大道100号"),
            "上海市浦东新区***"
        );
        assert_eq!(mask_address("12 Baker Street, London"), "***, London");
        assert_eq!(mask_address("某某路1号"), "某***");
    }

    proptest! {
        #[test]
        fn phone_masks_never_show_more_than_7_digits(s in "\\PC{0,30}") {
            let m = mask_phone(&s);
            prop_assert!(m.chars().filter(|c| c.is_ascii_digit()).count() <= 7);
        }

        #[test]
        fn eleven_digits_show_four_stars(s in "[1-9][0-9]{10}") {
            prop_assert_eq!(mask_phone(&s).matches('*').count(), 4);
        }

        #[test]
        fn email_masks_hide_the_name(local in "[a-z]{2,20}", domain in "[a-z]{1,10}\\.com") {
            let m = mask_email(&format!("{local}@{domain}"));
            prop_assert!(!m.contains(&local));
        }

        #[test]
        fn address_masks_never_panic(s in "\\PC{0,60}") {
            let _ = mask_address(&s);
        }
    }
}
