//! Input normalisation and match keys.
//!
//! Everything typed or imported passes through here, so that "１３８ ００１３ ８０００" and
//! "+86 138-0013-8000" get the same phone key, and "杭州云帆科技有限公司" and "杭州云帆科技"
//! the same company key. Pure functions: no I/O, and no panic on any input.

use std::borrow::Cow;
use std::fmt;

use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

/// Why a phone or e-mail was rejected, phrased to follow the value
/// ("'12ab34' has letters").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Invalid {}

fn invalid(reason: impl Into<String>) -> Invalid {
    Invalid(reason.into())
}

// ---------------------------------------------------------------- text

/// CJK Unified Ideographs, U+4E00..=U+9FFF: most of any Chinese text. Each one is a
/// letter without case and its own NFKC form, so an import of a million rows can skip
/// the Unicode table lookups for them (a test checks all 20,992 against the tables).
fn is_basic_ideograph(c: char) -> bool {
    ('\u{4E00}'..='\u{9FFF}').contains(&c)
}

/// `s` in NFKC; borrowed when it already is, which ASCII and plain Chinese text always
/// are, and most other text is (the standard quick check says so without decomposing).
pub(crate) fn nfkc(s: &str) -> Cow<'_, str> {
    if s.chars().all(|c| c.is_ascii() || is_basic_ideograph(c))
        || is_nfkc_quick(s.chars()) == IsNormalized::Yes
    {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.nfkc().collect())
    }
}

/// `char::to_lowercase`, without a table lookup for ASCII and basic ideographs.
fn for_each_lower(c: char, mut f: impl FnMut(char)) {
    if c.is_ascii() {
        f(c.to_ascii_lowercase());
    } else if is_basic_ideograph(c) {
        f(c);
    } else {
        c.to_lowercase().for_each(f);
    }
}

/// `char::is_alphanumeric`, without a table lookup for ASCII and basic ideographs.
fn is_alnum(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric()
    } else {
        is_basic_ideograph(c) || c.is_alphanumeric()
    }
}

/// Invisible characters that spreadsheets, web pages and chat apps paste in: two values
/// that look the same must compare the same.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{200B}' | '\u{200E}' | '\u{200F}' | '\u{202A}'
            ..='\u{202E}' | '\u{2060}' | '\u{FEFF}'
    )
}

fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{0085}' | '\u{2028}' | '\u{2029}')
}

/// Trim + Unicode NFKC (full-width digits, letters and punctuation become half-width, the
/// ideographic space a space), runs of whitespace collapsed to one space. Line breaks are
/// kept as a single '\n' (a run containing one becomes "\n") because multi-line notes
/// must survive. Invisible characters (zero-width space, BOM, bidi marks, soft hyphen)
/// are dropped. None when nothing is left.
pub fn clean_text(s: &str) -> Option<String> {
    // Invisible characters go before NFKC: removing them afterwards could bring a letter
    // and a combining mark together and make a second pass change the text.
    let visible: Cow<str> = if s.chars().any(is_invisible) {
        Cow::Owned(s.chars().filter(|c| !is_invisible(*c)).collect())
    } else {
        Cow::Borrowed(s)
    };
    collapse(nfkc(&visible).chars(), s.len())
}

/// Free text as people wrote it (notes): invisible characters removed, runs of spaces
/// collapsed, ends trimmed, but no NFKC — "，。！" and full-width letters stay.
pub fn clean_free_text(s: &str) -> Option<String> {
    collapse(s.chars().filter(|c| !is_invisible(*c)), s.len())
}

/// Spaces and controls collapsed to one space, line breaks to one newline, both ends
/// trimmed; None when nothing visible is left.
fn collapse(chars: impl Iterator<Item = char>, size: usize) -> Option<String> {
    let mut out = String::with_capacity(size);
    // The separator owed before the next visible character; it is only written between
    // two visible characters, which also trims both ends.
    let mut gap: Option<char> = None;
    for c in chars {
        if is_line_break(c) {
            gap = Some('\n');
        } else if c.is_whitespace() || c.is_control() {
            gap.get_or_insert(' ');
        } else {
            if let Some(g) = gap.take() {
                if !out.is_empty() {
                    out.push(g);
                }
            }
            out.push(c);
        }
    }
    (!out.is_empty()).then_some(out)
}

// ---------------------------------------------------------------- phone

/// Extension markers, longer ones first so "ext" is not read as "e", "x", "t".
const EXTENSION_MARKERS: &[&str] = &["extension", "分机号", "分机", "ext", "转", "x", "#"];

/// The phone text, NFKC'd and lower-cased, without a trailing extension ("… ext. 12",
/// "… x12", "…转12", "… 分机 12"). Shared with masking so both see the same number.
pub(crate) fn phone_without_extension(raw: &str) -> String {
    let mut text = String::with_capacity(raw.len());
    for c in nfkc(raw).chars() {
        for_each_lower(c, |l| text.push(l));
    }
    let t = text.trim_end();
    let before_digits = t.trim_end_matches(|c: char| c.is_ascii_digit());
    if before_digits.len() == t.len() {
        return t.to_string();
    }
    let before_marker =
        before_digits.trim_end_matches(|c: char| c.is_whitespace() || matches!(c, '.' | ':'));
    for marker in EXTENSION_MARKERS {
        if let Some(main) = before_marker.strip_suffix(marker) {
            // "x12" on its own has no number in front: it is not an extension.
            if main.chars().any(|c| c.is_ascii_digit()) {
                return main.to_string();
            }
        }
    }
    t.to_string()
}

/// 11 digits starting 13–19: a mainland Chinese mobile number.
pub(crate) fn is_cn_mobile(digits: &str) -> bool {
    digits.len() == 11 && matches!(digits.as_bytes(), [b'1', b'3'..=b'9', ..])
}

/// Starts like a mainland mobile (1[3-9]…) but is not 11 digits long: a digit was lost
/// or doubled, and no other numbering plan writes numbers like this without a "+".
fn is_broken_cn_mobile(digits: &str) -> bool {
    digits.len() != 11
        && (10..=12).contains(&digits.len())
        && matches!(digits.as_bytes(), [b'1', b'3'..=b'9', ..])
}

fn broken_mobile(digits: &str) -> Invalid {
    invalid(format!(
        "looks like a mainland mobile number but has {} digits, not 11 (a number abroad starts with + and its country code)",
        digits.len()
    ))
}

/// What people put between the digits of a phone number.
fn is_phone_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '-' | '.' | '(' | ')' | '/' | '\u{2010}'..='\u{2015}' | '\u{2212}'
        )
}

/// Phone match key: digits only, with the country code, no '+'.
///
/// `+CC…`/`00CC…` keep their code (and "+86 0571…" loses the trunk 0); an 11-digit
/// mobile 1[3-9]… gets 86; a 10–12 digit number starting 0 is a Chinese landline with
/// area code and becomes 86 without the 0; anything else is kept as given. The key must
/// be 7..=15 digits (E.164 allows 15). A trailing extension is not part of the key.
pub fn phone_key(raw: &str) -> Result<String, Invalid> {
    let main = phone_without_extension(raw);
    let mut digits = String::with_capacity(main.len());
    let mut plus = false;
    for c in main.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if digits.is_empty() && !plus => plus = true,
            c if is_phone_separator(c) => {}
            c if c.is_alphabetic() => return Err(invalid("has letters")),
            c => return Err(invalid(format!("has an unexpected character {c:?}"))),
        }
    }
    if digits.is_empty() {
        return Err(invalid("has no digits"));
    }
    let international = if plus {
        Some(digits.as_str())
    } else {
        digits.strip_prefix("00")
    };
    let key = match international {
        Some(number) => international_key(number)?,
        None if is_broken_cn_mobile(&digits) => return Err(broken_mobile(&digits)),
        None => domestic_key(&digits),
    };
    match key.len() {
        n if n < 7 => Err(invalid(format!("is too short ({n} digits)"))),
        n if n > 15 => Err(invalid(format!("is too long ({n} digits)"))),
        _ => Ok(key),
    }
}

/// Digits after "+" or "00": the country code comes first.
fn international_key(number: &str) -> Result<String, Invalid> {
    if let Some(rest) = number.strip_prefix("86") {
        // "+86 0571 …": the trunk 0 is dialled only inside China.
        let rest = rest.strip_prefix('0').unwrap_or(rest);
        if is_broken_cn_mobile(rest) {
            return Err(broken_mobile(rest));
        }
        return Ok(format!("86{rest}"));
    }
    if number.starts_with('0') {
        return Err(invalid("has a country code starting with 0"));
    }
    Ok(number.to_string())
}

/// Digits written without "+"/"00". "8613812345678" (already keyed), local 7–8 digit
/// landlines and everything else fall through unchanged.
fn domestic_key(digits: &str) -> String {
    if is_cn_mobile(digits) {
        return format!("86{digits}");
    }
    if let Some(rest) = digits.strip_prefix('0') {
        if (10..=12).contains(&digits.len()) {
            return format!("86{rest}");
        }
    }
    digits.to_string()
}

// ---------------------------------------------------------------- e-mail

/// Characters allowed in the part before '@' (after lower-casing), besides a-z and 0-9.
const LOCAL_SPECIALS: &str = "!#$%&'*+/=?^_`{|}~-.";

/// E-mail key: cleaned, lower-cased, with a practical syntax check (one '@'; a local part
/// of 1..=64 allowed characters without leading, trailing or double dots; a dotted
/// domain of [a-z0-9-] labels; a TLD of 2+ letters; 254 characters at most).
pub fn email_key(raw: &str) -> Result<String, Invalid> {
    let text = clean_text(raw)
        .ok_or_else(|| invalid("is empty"))?
        .to_lowercase();
    if text.chars().count() > 254 {
        return Err(invalid("is longer than 254 characters"));
    }
    let Some((local, domain)) = text.split_once('@') else {
        return Err(invalid("has no '@'"));
    };
    if domain.contains('@') {
        return Err(invalid("has more than one '@'"));
    }
    check_local(local)?;
    check_domain(domain)?;
    Ok(text)
}

fn check_local(local: &str) -> Result<(), Invalid> {
    if local.is_empty() {
        return Err(invalid("has nothing before the '@'"));
    }
    if local.chars().count() > 64 {
        return Err(invalid("has more than 64 characters before the '@'"));
    }
    let bad =
        |c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || LOCAL_SPECIALS.contains(c));
    if let Some(c) = local.chars().find(|c| bad(*c)) {
        return Err(if c.is_whitespace() {
            invalid("has a space")
        } else {
            invalid(format!("has an unexpected character {c:?} before the '@'"))
        });
    }
    if local.starts_with('.') || local.ends_with('.') {
        return Err(invalid("starts or ends with '.' before the '@'"));
    }
    if local.contains("..") {
        return Err(invalid("has '..' before the '@'"));
    }
    Ok(())
}

fn check_domain(domain: &str) -> Result<(), Invalid> {
    if domain.is_empty() {
        return Err(invalid("has nothing after the '@'"));
    }
    let Some((_, tld)) = domain.rsplit_once('.') else {
        return Err(invalid("needs a domain with a dot, like qq.com"));
    };
    for label in domain.split('.') {
        if label.is_empty() {
            return Err(invalid("has an empty part in the domain"));
        }
        if label.len() > 63 {
            return Err(invalid("has a domain part longer than 63 characters"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(invalid(format!(
                "has an unexpected character {c:?} in the domain"
            )));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(invalid("has a domain part starting or ending with '-'"));
        }
    }
    if tld.len() < 2 || !tld.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(invalid("needs a top-level domain of at least 2 letters"));
    }
    Ok(())
}

// ---------------------------------------------------------------- names

fn name_key_once(s: &str) -> String {
    let mut key = String::with_capacity(s.len());
    for c in nfkc(s).chars() {
        for_each_lower(c, |l| {
            if is_alnum(l) {
                key.push(l);
            }
        });
    }
    key
}

/// Name match key: NFKC, lower-case, letters and digits (CJK included) only; spaces and
/// punctuation of any script (·、，。（）…) are removed.
pub fn name_key(s: &str) -> String {
    let mut key = name_key_once(s);
    // Dropping punctuation can put a letter next to a combining mark that NFKC then
    // merges, so a second pass could still change the key. Repeat until stable (ASCII
    // is stable at once); the bound only guards against surprises.
    for _ in 0..8 {
        if key.is_ascii() {
            break;
        }
        let next = name_key_once(&key);
        if next == key {
            break;
        }
        key = next;
    }
    key
}

/// Chinese legal and organisational suffixes, longer first so "股份有限公司" is taken
/// whole rather than as "公司".
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

/// Latin legal forms as word sequences (punctuation is gone, so "L.L.C." is l l c and
/// "Co.,Ltd" is co ltd). Multi-word forms come first: "pte" alone is not a suffix.
const LATIN_SUFFIXES: &[&[&str]] = &[
    &["pte", "ltd"],
    &["l", "l", "c"],
    &["s", "a"],
    &["co"],
    &["company"],
    &["ltd"],
    &["limited"],
    &["inc"],
    &["incorporated"],
    &["llc"],
    &["corp"],
    &["corporation"],
    &["gmbh"],
    &["plc"],
    &["sa"],
];

/// Han, kana, Hangul and CJK symbols: scripts written without spaces between words.
pub(crate) fn is_cjk(c: char) -> bool {
    matches!(
        c,
        '\u{2E80}'..='\u{9FFF}' | '\u{AC00}'..='\u{D7AF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{3FFFF}'
    )
}

/// Lower-cased words: runs of letters and digits, also split where CJK meets other
/// scripts so "云帆Inc" ends in the word "inc".
fn words(s: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    // Whether the previous character was a CJK letter; None after a separator.
    let mut prev_cjk: Option<bool> = None;
    for c in nfkc(s).chars() {
        for_each_lower(c, |c| {
            if !is_alnum(c) {
                prev_cjk = None;
                return;
            }
            let cjk = is_cjk(c);
            match (prev_cjk, words.last_mut()) {
                (Some(p), Some(w)) if p == cjk => w.push(c),
                _ => words.push(c.to_string()),
            }
            prev_cjk = Some(cjk);
        });
    }
    words
}

/// Removes legal suffixes from the end, repeatedly ("… Co., Ltd." loses both). Latin
/// forms match whole words only, so "Taco" keeps its "co"; CJK forms match the end of
/// the last word because CJK has no spaces.
fn strip_legal_suffixes(words: &mut Vec<String>) {
    'strip: loop {
        for suffix in LATIN_SUFFIXES {
            let Some(start) = words.len().checked_sub(suffix.len()) else {
                continue;
            };
            if words[start..]
                .iter()
                .map(String::as_str)
                .eq(suffix.iter().copied())
            {
                words.truncate(start);
                continue 'strip;
            }
        }
        if let Some(last) = words.last_mut() {
            if let Some(suffix) = CJK_SUFFIXES.iter().find(|s| last.ends_with(**s)) {
                let keep = last.len() - suffix.len();
                last.truncate(keep);
                if last.is_empty() {
                    words.pop();
                }
                continue;
            }
        }
        return;
    }
}

fn company_key_once(s: &str) -> String {
    let mut words = words(s);
    strip_legal_suffixes(&mut words);
    let key = name_key(&words.concat());
    if key.is_empty() {
        // The name was nothing but a legal form ("有限公司", "Ltd"): keep it whole.
        name_key(s)
    } else {
        key
    }
}

/// Company match key: `name_key` after stripping legal and organisational suffixes
/// (有限公司, 集团, 工作室 …; Co., Ltd., Inc, LLC, GmbH, Pte. Ltd. …) from the end,
/// repeatedly. Suffixes only, no city prefixes. Never empty when the input had letters
/// or digits: a name that is only a suffix keeps it.
pub fn company_key(s: &str) -> String {
    let mut key = company_key_once(s);
    // The key is one word, so keying it again can find a suffix that spaces hid the
    // first time ("云帆公 司" → "云帆公司" → "云帆"). Repeat until stable so that
    // company_key(company_key(x)) == company_key(x); each round shortens the key.
    for _ in 0..16 {
        let next = company_key_once(&key);
        if next == key {
            break;
        }
        key = next;
    }
    key
}

// ---------------------------------------------------------------- tags

/// Tags: split on , ， ; ； 、 (and line breaks), each cleaned with `clean_text` and kept
/// in the spelling the person typed (`VIP`, `Big Client`); empties dropped, and a tag
/// whose [`tag_key`] repeats an earlier one dropped, keeping the first spelling.
pub fn parse_tags(s: &str) -> Vec<String> {
    // NFKC first turns the full-width separators (，；､) into the ones split on.
    let text = nfkc(s);
    let mut tags: Vec<String> = Vec::new();
    for part in text.split(|c: char| matches!(c, ',' | ';' | '、') || is_line_break(c)) {
        if let Some(tag) = clean_text(part) {
            add_tag(&mut tags, tag);
        }
    }
    tags
}

/// What tags are matched on: the tag with ASCII letters lower-cased, so `--tag vip`,
/// `--for tag=Vip` and a customer tagged `VIP` meet. Stored in `customer_tags`; the
/// customer row keeps the spelling. ASCII only, because the recycle-date triggers match
/// in SQL, where SQLite's `lower()` folds ASCII alone (the server's SQL folds the same
/// letters with `translate`); 汉字 have no case.
pub fn tag_key(tag: &str) -> String {
    tag.to_ascii_lowercase()
}

/// Adds a tag unless one with the same key is there (the first spelling stays).
pub fn add_tag(tags: &mut Vec<String>, tag: String) {
    let key = tag_key(&tag);
    if !tags.iter().any(|t| tag_key(t) == key) {
        tags.push(tag);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(p: &str) -> String {
        match phone_key(p) {
            Ok(k) => k,
            Err(e) => panic!("{p:?} was rejected: {e}"),
        }
    }

    #[test]
    fn clean_text_folds_width_and_whitespace() {
        assert_eq!(clean_text("  张　三  ").as_deref(), Some("张 三"));
        assert_eq!(clean_text("ＡＢＣ１２３").as_deref(), Some("ABC123"));
        assert_eq!(clean_text("a \t\u{a0} b").as_deref(), Some("a b"));
        assert_eq!(
            clean_text("Li\u{200B}Hua\u{FEFF}").as_deref(),
            Some("LiHua")
        );
        assert_eq!(clean_text(" \t\u{3000}\n "), None);
        assert_eq!(clean_text(""), None);
    }

    #[test]
    fn clean_text_keeps_single_line_breaks() {
        assert_eq!(
            clean_text("line one \r\n\r\n  line two\n").as_deref(),
            Some("line one\nline two")
        );
    }

    #[test]
    fn phone_examples() {
        assert_eq!(key("１３８ ００１３ ８０００"), "8613800138000");
        assert_eq!(key("+86 138-0013-8000"), "8613800138000");
        assert_eq!(key("0086 13800138000"), "8613800138000");
        assert_eq!(key("(+86) 138 0013 8000"), "8613800138000");
        assert_eq!(key("＋８６　１３８－００１３－８０００"), "8613800138000");
        assert_eq!(key("8613800138000"), "8613800138000");
        assert_eq!(key("(010) 6234 5678"), "861062345678");
        assert_eq!(key("010-62345678"), "861062345678");
        assert_eq!(key("0571-88886666"), "8657188886666");
        assert_eq!(key("+86 0571 8888 6666"), "8657188886666");
        assert_eq!(key("+44 20 7946 0958"), "442079460958");
        assert_eq!(key("+1 (415) 555-0132"), "14155550132");
        assert_eq!(key("138.0013.8000"), "8613800138000");
        assert_eq!(key("138—0013—8000"), "8613800138000");
        assert_eq!(key("88886666"), "88886666");
        assert_eq!(key("6234567"), "6234567");
        assert_eq!(key("138001380"), "138001380");
    }

    #[test]
    fn phone_extensions_are_not_part_of_the_key() {
        assert_eq!(key("13800138000 ext 12"), "8613800138000");
        assert_eq!(key("13800138000 EXT. 12"), "8613800138000");
        assert_eq!(key("13800138000x12"), "8613800138000");
        assert_eq!(key("0571-88886666转12"), "8657188886666");
        assert_eq!(key("0571-88886666 分机 8"), "8657188886666");
    }

    #[test]
    fn phone_rejections() {
        let reason = |p: &str| phone_key(p).err().map(|e| e.to_string());
        assert_eq!(reason("12ab34").as_deref(), Some("has letters"));
        assert_eq!(reason("x12").as_deref(), Some("has letters"));
        assert_eq!(reason("123").as_deref(), Some("is too short (3 digits)"));
        assert_eq!(reason("12345").as_deref(), Some("is too short (5 digits)"));
        assert_eq!(
            reason("1234567890123456").as_deref(),
            Some("is too long (16 digits)")
        );
        assert_eq!(reason("").as_deref(), Some("has no digits"));
        assert_eq!(reason(" - ").as_deref(), Some("has no digits"));
        assert!(phone_key("138*0013").is_err());
        assert!(phone_key("138+0013+8000").is_err());
        assert!(phone_key("+0 12345678").is_err());
        // A mainland mobile with a digit lost or doubled.
        assert!(reason("1380013800").is_some_and(|r| r.contains("10 digits, not 11")));
        assert!(reason("138001380001").is_some_and(|r| r.contains("12 digits, not 11")));
        assert!(reason("+86 138 0013 800").is_some_and(|r| r.contains("not 11")));
        // Other ten-digit numbers are not mobiles.
        assert_eq!(key("+86 10 6234 5678"), "861062345678");
        assert_eq!(key("1234567890"), "1234567890");
    }

    #[test]
    fn email_examples() {
        let ok = |m: &str| email_key(m).map_err(|e| format!("{m:?}: {e}"));
        assert_eq!(ok("  Li.Hua@QQ.com "), Ok("li.hua@qq.com".to_string()));
        assert_eq!(ok("ｌｉ＠ｑｑ．ｃｏｍ"), Ok("li@qq.com".to_string()));
        assert_eq!(
            ok("o'brien+crm@mail.example.co.uk"),
            Ok("o'brien+crm@mail.example.co.uk".to_string())
        );
        for bad in [
            "li@@qq.com",
            "li@qq",
            "@qq.com",
            "li..hua@qq.com",
            "li@-qq.com",
            "li@qq-.com",
            "li@",
            "li hua@qq.com",
            ".li@qq.com",
            "li.@qq.com",
            "li@qq..com",
            "li@qq.c",
            "li@qq.c0m",
            "li@qq_x.com",
            "李@qq.com",
            "liqq.com",
            "",
        ] {
            assert!(email_key(bad).is_err(), "{bad:?} was accepted");
        }
        let long_local = format!("{}@qq.com", "a".repeat(65));
        assert!(email_key(&long_local).is_err());
        let long_label = format!("li@{}.com", "a".repeat(64));
        assert!(email_key(&long_label).is_err());
        let long_total = format!("li@{}.com", vec!["a".repeat(60); 5].join("."));
        assert!(email_key(&long_total).is_err());
    }

    #[test]
    fn name_examples() {
        assert_eq!(name_key("张 三"), "张三");
        assert_eq!(name_key("Li, Hua"), "lihua");
        assert_eq!(name_key("欧阳·娜娜"), "欧阳娜娜");
        assert_eq!(name_key("（张三）、李四。"), "张三李四");
        assert_eq!(name_key("ＪＯＨＮ　Ｏ'Ｂｒｉｅｎ"), "johnobrien");
        assert_eq!(name_key("José"), "josé");
        assert_eq!(name_key(" ,.· "), "");
    }

    #[test]
    fn company_examples() {
        assert_eq!(company_key("杭州云帆科技有限公司"), "杭州云帆科技");
        assert_eq!(company_key("杭州云帆科技股份有限公司"), "杭州云帆科技");
        assert_eq!(company_key("云帆科技（杭州）有限责任公司"), "云帆科技杭州");
        assert_eq!(company_key("阿里巴巴集团"), "阿里巴巴");
        assert_eq!(company_key("阿里巴巴集团有限公司"), "阿里巴巴");
        assert_eq!(company_key("云帆杭州分公司"), "云帆杭州");
        assert_eq!(company_key("小鹿设计工作室"), "小鹿设计");
        assert_eq!(company_key("Acme Co., Ltd."), "acme");
        assert_eq!(company_key("Acme Co.,Ltd"), "acme");
        assert_eq!(company_key("Acme Co Ltd"), "acme");
        assert_eq!(company_key("ACME Inc"), "acme");
        assert_eq!(company_key("Acme, Inc."), "acme");
        assert_eq!(company_key("Acme Incorporated"), "acme");
        assert_eq!(company_key("Acme L.L.C."), "acme");
        assert_eq!(company_key("Acme LLC"), "acme");
        assert_eq!(company_key("Acme Corp"), "acme");
        assert_eq!(company_key("Acme Corporation"), "acme");
        assert_eq!(company_key("Acme Company Limited"), "acme");
        assert_eq!(company_key("Acme GmbH"), "acme");
        assert_eq!(company_key("Acme S.A."), "acme");
        assert_eq!(company_key("Acme PLC"), "acme");
        assert_eq!(company_key("Acme Pte. Ltd."), "acme");
        assert_eq!(company_key("云帆Inc"), "云帆");
        assert_eq!(company_key("Northwind Trading Ltd"), "northwindtrading");
    }

    #[test]
    fn company_suffixes_are_whole_words_and_never_leave_nothing() {
        assert_eq!(company_key("Taco"), "taco");
        assert_eq!(company_key("Pte Partners"), "ptepartners");
        assert_eq!(company_key("Ltd"), "ltd");
        assert_eq!(company_key("Inc. Ltd."), "incltd");
        assert_eq!(company_key("有限公司"), "有限公司");
        assert_eq!(company_key(""), "");
        assert_eq!(company_key("云帆公 司"), "云帆");
    }

    #[test]
    fn tag_examples() {
        assert_eq!(
            parse_tags("VIP、制造业, vip ;；零售，Big  Client"),
            ["VIP", "制造业", "零售", "Big Client"]
        );
        assert_eq!(parse_tags("ａ；ｂ\nc"), ["a", "b", "c"]);
        assert!(parse_tags(" , 、;;").is_empty());
        assert!(parse_tags("").is_empty());
    }

    #[test]
    fn keys_are_stable_where_removal_brings_marks_together() {
        // Removing '-', '·' or a zero-width space puts a letter next to a combining
        // mark that NFKC would merge on a second pass.
        for s in [
            "α-\u{345}",
            "e·\u{301}",
            "e\u{200B}\u{301}",
            "İstanbul",
            "有限 公司",
        ] {
            let n = name_key(s);
            assert_eq!(name_key(&n), n, "{s:?}");
            let c = company_key(s);
            assert_eq!(company_key(&c), c, "{s:?}");
            let t = clean_text(s);
            assert_eq!(t.as_deref().and_then(clean_text), t, "{s:?}");
        }
    }

    /// Ways people write the same Chinese mobile number.
    fn spellings(m: &str) -> Vec<String> {
        let (a, b, c) = (&m[..3], &m[3..7], &m[7..]);
        let wide: String = m
            .chars()
            .map(|d| char::from_u32(d as u32 - '0' as u32 + '０' as u32).unwrap_or(d))
            .collect();
        vec![
            m.to_string(),
            format!("+86{m}"),
            format!("+86 {a} {b} {c}"),
            format!("+86-{a}-{b}-{c}"),
            format!("(+86) {a} {b} {c}"),
            format!("0086{m}"),
            format!("0086 {a}-{b}-{c}"),
            format!("86{m}"),
            format!("{a} {b} {c}"),
            format!("{a}-{b}-{c}"),
            format!("{a}-{b}-{c} ext 9"),
            wide.clone(),
            format!("＋８６　{wide}"),
        ]
    }

    #[test]
    fn basic_ideographs_need_no_unicode_tables() {
        for c in '\u{4E00}'..='\u{9FFF}' {
            assert!(c.is_alphanumeric(), "{c:?}");
            assert!(c.to_lowercase().eq([c]), "{c:?}");
            assert_eq!(is_nfkc_quick([c].into_iter()), IsNormalized::Yes, "{c:?}");
            assert!(c.nfkc().eq([c]), "{c:?}");
        }
    }

    /// The normalisation as first written (whole-string NFKC and table lookups for every
    /// character): the fast paths must give exactly the same results.
    mod reference {
        use super::super::{is_cjk, is_invisible, is_line_break, strip_legal_suffixes};
        use unicode_normalization::UnicodeNormalization;

        pub fn clean_text(s: &str) -> Option<String> {
            let mut out = String::new();
            let mut gap: Option<char> = None;
            for c in s.chars().filter(|c| !is_invisible(*c)).nfkc() {
                if is_line_break(c) {
                    gap = Some('\n');
                } else if c.is_whitespace() || c.is_control() {
                    gap.get_or_insert(' ');
                } else {
                    if let Some(g) = gap.take() {
                        if !out.is_empty() {
                            out.push(g);
                        }
                    }
                    out.push(c);
                }
            }
            (!out.is_empty()).then_some(out)
        }

        pub fn lower_nfkc(s: &str) -> String {
            s.nfkc().flat_map(char::to_lowercase).collect()
        }

        fn name_key_once(s: &str) -> String {
            s.nfkc()
                .flat_map(char::to_lowercase)
                .filter(|c| c.is_alphanumeric())
                .collect()
        }

        pub fn name_key(s: &str) -> String {
            let mut key = name_key_once(s);
            for _ in 0..8 {
                if key.is_ascii() {
                    break;
                }
                let next = name_key_once(&key);
                if next == key {
                    break;
                }
                key = next;
            }
            key
        }

        fn words(s: &str) -> Vec<String> {
            let mut words: Vec<String> = Vec::new();
            let mut prev_cjk: Option<bool> = None;
            for c in s.nfkc().flat_map(char::to_lowercase) {
                if !c.is_alphanumeric() {
                    prev_cjk = None;
                    continue;
                }
                let cjk = is_cjk(c);
                match (prev_cjk, words.last_mut()) {
                    (Some(p), Some(w)) if p == cjk => w.push(c),
                    _ => words.push(c.to_string()),
                }
                prev_cjk = Some(cjk);
            }
            words
        }

        fn company_key_once(s: &str) -> String {
            let mut words = words(s);
            strip_legal_suffixes(&mut words);
            let key = name_key(&words.concat());
            if key.is_empty() {
                name_key(s)
            } else {
                key
            }
        }

        pub fn company_key(s: &str) -> String {
            let mut key = company_key_once(s);
            for _ in 0..16 {
                let next = company_key_once(&key);
                if next == key {
                    break;
                }
                key = next;
            }
            key
        }
    }

    /// Text like real leads files: Han, ASCII, full-width forms, CJK punctuation,
    /// accents and combining marks, invisible characters.
    const MIXED: &str = "[a-zA-Z0-9 ,.@+()\\-云帆杭州科技有限公司集团李王张、，。（）：ＡＢＣａｂ０１２　·éÅİß\u{301}\u{345}\u{200B}\u{FEFF}\u{3000}\u{2460}㈱ﾊﾟｶ가\n\t]{0,40}";

    fn same_as_reference(s: &str) -> Result<(), TestCaseError> {
        prop_assert_eq!(clean_text(s), reference::clean_text(s));
        prop_assert_eq!(name_key(s), reference::name_key(s));
        prop_assert_eq!(company_key(s), reference::company_key(s));
        let mut lowered = String::new();
        for c in nfkc(s).chars() {
            for_each_lower(c, |l| lowered.push(l));
        }
        prop_assert_eq!(lowered, reference::lower_nfkc(s));
        let want: String = s.nfkc().collect();
        let got = nfkc(s);
        prop_assert_eq!(got.as_ref(), want.as_str());
        Ok(())
    }

    proptest! {
        #[test]
        fn fast_paths_match_the_reference(s in any::<String>()) {
            same_as_reference(&s)?;
        }

        #[test]
        fn fast_paths_match_the_reference_on_mixed_text(s in MIXED) {
            same_as_reference(&s)?;
        }

        #[test]
        fn clean_text_is_idempotent(s in any::<String>()) {
            let once = clean_text(&s);
            prop_assert_eq!(once.as_deref().and_then(clean_text), once.clone());
        }

        #[test]
        fn phone_key_never_panics_and_keys_are_7_to_15_digits(s in any::<String>()) {
            if let Ok(k) = phone_key(&s) {
                prop_assert!(k.bytes().all(|b| b.is_ascii_digit()), "{}", k);
                prop_assert!((7..=15).contains(&k.len()), "{}", k);
            }
        }

        #[test]
        fn phone_like_keys_are_7_to_15_digits(s in "[+(]{0,2}[0-9 ()./-]{0,24}((ext|x|转)[0-9]{1,4})?") {
            if let Ok(k) = phone_key(&s) {
                prop_assert!(k.bytes().all(|b| b.is_ascii_digit()), "{}", k);
                prop_assert!((7..=15).contains(&k.len()), "{}", k);
            }
        }

        #[test]
        fn spellings_of_a_mobile_share_one_key(m in "1[3-9][0-9]{9}") {
            let want = format!("86{m}");
            for v in spellings(&m) {
                prop_assert_eq!(phone_key(&v), Ok(want.clone()), "{}", v);
            }
        }

        #[test]
        fn email_keys_are_lowercase_with_one_at(s in any::<String>()) {
            if let Ok(k) = email_key(&s) {
                prop_assert_eq!(k.matches('@').count(), 1);
                prop_assert_eq!(k.to_lowercase(), k);
            }
        }

        #[test]
        fn email_like_keys_are_lowercase_with_one_at(s in "[ A-Za-z0-9.@_+-]{0,30}") {
            if let Ok(k) = email_key(&s) {
                prop_assert_eq!(k.matches('@').count(), 1);
                prop_assert_eq!(k.to_lowercase(), k.clone());
                prop_assert_eq!(email_key(&k), Ok(k.clone()));
            }
        }

        #[test]
        fn name_key_is_idempotent(s in any::<String>()) {
            let k = name_key(&s);
            prop_assert_eq!(name_key(&k), k);
        }

        #[test]
        fn company_key_is_idempotent(s in any::<String>()) {
            let k = company_key(&s);
            prop_assert_eq!(company_key(&k), k);
        }

        #[test]
        fn company_like_keys_are_idempotent_and_not_empty(
            s in "[A-Za-z 云帆杭州科技有限公司集团工作室股份责任分.,]{0,30}"
        ) {
            let k = company_key(&s);
            prop_assert_eq!(company_key(&k), k.clone());
            prop_assert_eq!(k.is_empty(), name_key(&s).is_empty());
        }

        #[test]
        fn parse_tags_is_stable_when_joined(s in any::<String>()) {
            let tags = parse_tags(&s);
            prop_assert_eq!(parse_tags(&tags.join(",")), tags.clone());
            let mut keys: Vec<String> = tags.iter().map(|t| tag_key(t)).collect();
            keys.sort();
            keys.dedup();
            prop_assert_eq!(keys.len(), tags.len());
        }
    }
}
