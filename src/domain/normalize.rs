//! Input normalisation and match keys: what makes "１３８ ００１３ ８０００" and
//! "+86 138-0013-8000" the same phone, and "杭州云帆科技有限公司" and "杭州云帆科技" the
//! same company.
use unicode_normalization::UnicodeNormalization;

/// Why a phone or e-mail was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Trim + NFKC (full-width letters, digits and punctuation become half-width, the
/// ideographic space a space), runs of spaces collapsed to one; line breaks are kept
/// (as \n, without spaces around them) so multi-line notes survive. None if empty.
pub fn clean_text(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    let mut newline = false;
    for c in s.nfkc() {
        if c == '\n' || c == '\r' {
            newline = !out.is_empty();
            space = false;
        } else if c.is_whitespace() || c.is_control() {
            space = !out.is_empty() && !newline;
        } else {
            if newline {
                out.push('\n');
            } else if space {
                out.push(' ');
            }
            space = false;
            newline = false;
            out.push(c);
        }
    }
    if out.is_empty() {
        None
    } else {
        Some(out)
    }
}

/// Phone match key: digits with the country code, no '+'. Chinese mobiles and landlines
/// get 86; `+CC`/`00CC` international numbers keep their code; an extension is dropped.
pub fn phone_key(raw: &str) -> Result<String, Invalid> {
    let text: String = raw.nfkc().collect::<String>().to_lowercase();
    // Drop an extension: "… ext 12", "… x12", "…转12".
    let main = ["ext", "转", "x", "#"]
        .iter()
        .filter_map(|m| text.find(m).filter(|i| *i > 0).map(|i| &text[..i]))
        .min_by_key(|s| s.len())
        .unwrap_or(&text);
    let mut digits = String::with_capacity(main.len());
    let mut plus = false;
    for c in main.trim().chars() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if digits.is_empty() && !plus => plus = true,
            ' ' | '-' | '.' | '(' | ')' | '/' | '\u{3000}' => {}
            c if c.is_whitespace() => {}
            c if c.is_alphabetic() => return Err(Invalid("has letters".into())),
            _ => return Err(Invalid(format!("has an unexpected character '{c}'"))),
        }
    }
    let intl = if plus {
        Some(digits.as_str())
    } else {
        digits.strip_prefix("00")
    };
    let key = match intl {
        // +86 0571-… : the trunk 0 after the country code is not dialled.
        Some(rest) if rest.starts_with("860") => format!("86{}", &rest[3..]),
        Some(rest) => rest.to_string(),
        None if digits.len() == 11
            && digits.starts_with('1')
            && matches!(digits.as_bytes()[1], b'3'..=b'9') =>
        {
            format!("86{digits}")
        }
        None if digits.len() == 13
            && digits.starts_with("861")
            && matches!(digits.as_bytes()[3], b'3'..=b'9') =>
        {
            digits.clone()
        }
        None if digits.starts_with('0') && (10..=12).contains(&digits.len()) => {
            format!("86{}", &digits[1..])
        }
        None => digits.clone(),
    };
    match key.len() {
        0 => Err(Invalid("has no digits".into())),
        n if n < 7 => Err(Invalid(format!("is too short ({n} digits)"))),
        n if n > 15 => Err(Invalid(format!("is too long ({n} digits)"))),
        _ => Ok(key),
    }
}

fn local_char_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-.".contains(c)
}

/// E-mail key: cleaned and lower-cased, with a practical syntax check.
pub fn email_key(raw: &str) -> Result<String, Invalid> {
    let s = clean_text(raw)
        .ok_or_else(|| Invalid("is empty".into()))?
        .to_lowercase();
    if s.len() > 254 {
        return Err(Invalid("is longer than 254 characters".into()));
    }
    let mut parts = s.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Invalid("needs exactly one @".into()));
    };
    if local.is_empty() || local.len() > 64 {
        return Err(Invalid("has no name before the @".into()));
    }
    if !local.chars().all(local_char_ok)
        || local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
    {
        return Err(Invalid("has an invalid name before the @".into()));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err(Invalid("needs a domain like qq.com".into()));
    }
    for l in &labels {
        if l.is_empty()
            || l.len() > 63
            || l.starts_with('-')
            || l.ends_with('-')
            || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(Invalid(format!("has an invalid domain '{domain}'")));
        }
    }
    let tld = labels[labels.len() - 1];
    if tld.len() < 2 || !tld.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(Invalid(format!("has an invalid domain '{domain}'")));
    }
    Ok(s)
}

/// Name key: NFKC, lower-case, letters and digits only (spaces and punctuation of any
/// script removed).
pub fn name_key(s: &str) -> String {
    s.nfkc()
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// Chinese legal and organisational suffixes, longest first.
const CJK_SUFFIXES: &[&str] = &[
    "股份有限公司",
    "有限责任公司",
    "集团有限公司",
    "有限公司",
    "分公司",
    "工作室",
    "集团",
    "公司",
];

/// Latin legal-form words, matched as whole words at the end.
const LATIN_SUFFIXES: &[&str] = &[
    "co",
    "ltd",
    "inc",
    "llc",
    "corp",
    "corporation",
    "company",
    "limited",
    "incorporated",
    "gmbh",
    "plc",
    "sa",
    "pte",
];

/// Company key: the name key without legal suffixes (有限公司, Co., Ltd., Inc. …),
/// stripped repeatedly from the end. Never empty when the name had letters.
pub fn company_key(s: &str) -> String {
    let full = name_key(s);
    let text: String = s.nfkc().flat_map(char::to_lowercase).collect();
    let mut words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    loop {
        if words.len() > 1 && words.last().is_some_and(|w| LATIN_SUFFIXES.contains(w)) {
            words.pop();
        } else if words.len() > 3 && words.ends_with(&["l", "l", "c"]) {
            words.truncate(words.len() - 3);
        } else {
            break;
        }
    }
    let mut k: String = words.concat();
    // The longest suffix first; a name that is nothing but a suffix stays as it is.
    while let Some(suf) = CJK_SUFFIXES.iter().find(|suf| k.ends_with(*suf)) {
        if k.len() == suf.len() {
            break;
        }
        k.truncate(k.len() - suf.len());
    }
    if k.is_empty() {
        full
    } else {
        k
    }
}

/// Tags: split on , ， ; ； 、 and spaces around them; cleaned; ASCII lower-cased;
/// duplicates dropped, first order kept.
pub fn parse_tags(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in s.split([',', '，', ';', '；', '、', '|']) {
        if let Some(t) = clean_text(part) {
            let t = t.to_ascii_lowercase();
            if !out.contains(&t) {
                out.push(t);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn clean_text_folds_width_and_space() {
        assert_eq!(clean_text("  张　三  ").as_deref(), Some("张 三"));
        assert_eq!(clean_text("ＡＢＣ１２３").as_deref(), Some("ABC123"));
        assert_eq!(clean_text(" \t\n "), None);
        assert_eq!(
            clean_text("line one \r\n\r\n line two").as_deref(),
            Some("line one\nline two")
        );
    }

    #[test]
    fn phones() {
        for p in [
            "１３８ ００１３ ８０００",
            "+86 138-0013-8000",
            "0086 13800138000",
            "13800138000",
            "8613800138000",
            "(+86) 138 0013 8000",
        ] {
            assert_eq!(phone_key(p).unwrap(), "8613800138000", "{p}");
        }
        assert_eq!(phone_key("(010) 6234 5678").unwrap(), "861062345678");
        assert_eq!(phone_key("0571-88886666").unwrap(), "8657188886666");
        assert_eq!(phone_key("+86 0571 8888 6666").unwrap(), "8657188886666");
        assert_eq!(phone_key("+44 20 7946 0958").unwrap(), "442079460958");
        assert_eq!(phone_key("+1 415 555 0132").unwrap(), "14155550132");
        assert_eq!(phone_key("13800138000 转 123").unwrap(), "8613800138000");
        assert_eq!(phone_key("0571-88886666 ext. 12").unwrap(), "8657188886666");
        assert_eq!(phone_key("88886666").unwrap(), "88886666");
        assert_eq!(phone_key("138001380").unwrap(), "138001380");
        assert!(phone_key("12ab34").is_err());
        assert!(phone_key("123").is_err());
        assert!(phone_key("12345").is_err());
        assert!(phone_key("1234567890123456789").is_err());
        assert!(phone_key("").is_err());
    }

    #[test]
    fn emails() {
        assert_eq!(email_key("  Li.Hua@QQ.com ").unwrap(), "li.hua@qq.com");
        assert_eq!(email_key("ｌｉ＠ｑｑ．ｃｏｍ").unwrap(), "li@qq.com");
        for bad in [
            "li@@qq.com",
            "li@qq",
            "@qq.com",
            "li..hua@qq.com",
            "li@-qq.com",
            "wang@",
            "li hua@qq.com",
            "li@qq.c0m",
            ".li@qq.com",
        ] {
            assert!(email_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_and_companies() {
        assert_eq!(name_key("张 三"), "张三");
        assert_eq!(name_key("Li, Hua"), "lihua");
        assert_eq!(name_key("欧阳·娜娜"), "欧阳娜娜");
        assert_eq!(company_key("杭州云帆科技有限公司"), "杭州云帆科技");
        assert_eq!(company_key("杭州云帆科技股份有限公司"), "杭州云帆科技");
        assert_eq!(company_key("Acme Co., Ltd."), "acme");
        assert_eq!(company_key("ACME Inc"), "acme");
        assert_eq!(company_key("Northwind Trading Ltd"), "northwindtrading");
        assert_eq!(company_key("阿里巴巴集团"), "阿里巴巴");
        assert_eq!(company_key("Taco"), "taco");
        assert_eq!(company_key("有限公司"), "有限公司");
        assert_eq!(company_key("Ltd"), "ltd");
    }

    #[test]
    fn tags() {
        assert_eq!(
            parse_tags("VIP、制造业, vip ;；零售"),
            ["vip", "制造业", "零售"]
        );
        assert!(parse_tags(" , 、").is_empty());
    }

    fn cn_mobile() -> impl Strategy<Value = String> {
        "1[3-9][0-9]{9}"
    }

    proptest! {
        #[test]
        fn clean_text_is_idempotent(s in "\\PC{0,40}") {
            let once = clean_text(&s);
            let twice = once.as_deref().and_then(clean_text);
            prop_assert_eq!(once, twice);
        }

        #[test]
        fn phone_key_never_panics_and_is_digits(s in "\\PC{0,30}") {
            if let Ok(k) = phone_key(&s) {
                prop_assert!(k.chars().all(|c| c.is_ascii_digit()));
                prop_assert!((7..=15).contains(&k.len()));
            }
        }

        #[test]
        fn formats_of_one_mobile_agree(m in cn_mobile()) {
            let spaced = format!("{} {} {}", &m[..3], &m[3..7], &m[7..]);
            let wide: String = m.chars().map(|c| char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap_or(c)).collect();
            let want = format!("86{m}");
            for v in [m.clone(), format!("+86 {spaced}"), format!("0086{m}"), m.replace("", "-").trim_matches('-').to_string(), wide] {
                prop_assert_eq!(phone_key(&v).unwrap(), want.clone(), "{}", v);
            }
        }

        #[test]
        fn email_keys_are_lowercase_with_one_at(s in "\\PC{0,40}") {
            if let Ok(k) = email_key(&s) {
                prop_assert_eq!(k.matches('@').count(), 1);
                prop_assert_eq!(k.clone(), k.to_lowercase());
            }
        }

        #[test]
        fn name_and_company_keys_are_stable(s in "\\PC{0,40}") {
            let n = name_key(&s);
            prop_assert_eq!(name_key(&n), n.clone());
            let _ = company_key(&s);
        }
    }
}
