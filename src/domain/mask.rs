//! Masking (脱敏) of personal data, in one place: what viewers, members looking at the
//! pool, audit entries and exports without `--unmasked` show instead of the real value.
//! Every function takes any text and never panics.

use super::normalize::{is_cjk, is_cn_mobile, phone_without_extension};

/// Masks a digit string: 4 or fewer digits are hidden entirely (even their count), 11
/// keep the familiar 3+4 shape, others keep the first ceil(n/4) and last floor(n/4),
/// never more than 7 in all.
fn mask_digits(digits: &str) -> String {
    let n = digits.chars().count();
    let (head, tail) = match n {
        0..=4 => return "****".to_string(),
        11 => (3, 4),
        _ => (n.div_ceil(4).min(4), (n / 4).min(3)),
    };
    let mut out: String = digits.chars().take(head).collect();
    out.extend(std::iter::repeat_n('*', n - head - tail));
    out.extend(digits.chars().skip(n - tail));
    out
}

/// Phone: keeps the shape, hides the middle. "13800138000" → "138****8000"; with a
/// country code ("+86 138 0013 8000", "0086…", "8613800138000") → "+86 138****8000";
/// other international numbers → "+" and the masked digits. Separators and any
/// extension are dropped. At most 7 digits of the number show (a leading "+86" is the
/// country, not the number). Blank input gives "".
pub fn mask_phone(raw: &str) -> String {
    if raw.trim().is_empty() {
        return String::new();
    }
    // Masked already (a server's masked view): as it is, not masked twice.
    if raw.contains("***") {
        return raw.to_string();
    }
    let main = phone_without_extension(raw);
    let explicit_plus = main
        .trim_start_matches(|c: char| c.is_whitespace() || c == '(')
        .starts_with('+');
    let digits: String = main.chars().filter(char::is_ascii_digit).collect();
    let international = if explicit_plus {
        Some(digits.as_str())
    } else {
        digits.strip_prefix("00")
    };
    match international {
        Some(number) => match number.strip_prefix("86").filter(|rest| !rest.is_empty()) {
            Some(rest) => format!("+86 {}", mask_digits(rest)),
            None => format!("+{}", mask_digits(number)),
        },
        // "8613800138000": a mobile already stored with its country code.
        None => match digits.strip_prefix("86").filter(|rest| is_cn_mobile(rest)) {
            Some(mobile) => format!("+86 {}", mask_digits(mobile)),
            None => mask_digits(&digits),
        },
    }
}

/// E-mail: the first character of the name, "***@" and the domain:
/// "lihua@qq.com" → "l***@qq.com". Without an '@': "***".
pub fn mask_email(raw: &str) -> String {
    // Masked already (a server's masked view): exactly the mask's shape, "l***@domain",
    // which masking would give again; anything else with stars is masked as usual.
    if let Some((local, _)) = raw.trim().rsplit_once('@') {
        if local.chars().count() == 4 && local.ends_with("***") {
            return raw.trim().to_string();
        }
    }
    // The last '@' starts the domain, so a malformed "a@b@qq.com" shows no more than
    // "a***@qq.com".
    match raw.trim().rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_string(),
    }
}

/// Where the part of a Chinese address down to the district ends (an index in chars), or
/// None. 区/县/旗 mark a district; a 市 after a 省 (or 自治区/特别行政区) is used only when
/// no district follows, for cities without districts ("广东省东莞市…"). Only the text
/// before the first digit is looked at: a 区 after a number is a block ("A区3栋"), and
/// the street and number must stay hidden.
fn district_end(chars: &[char]) -> Option<usize> {
    let head = chars
        .iter()
        .position(|c| c.is_numeric())
        .map_or(chars, |i| &chars[..i]);
    let mut in_province = false;
    let mut city_end = None;
    for (i, &c) in head.iter().enumerate() {
        let before = &head[..i];
        match c {
            '省' => in_province = true,
            // 自治区 and 特别行政区 are provinces, not districts.
            '区' if before.ends_with(&['自', '治']) || before.ends_with(&['行', '政']) => {
                in_province = true;
            }
            '区' | '县' | '旗' => return Some(i + 1),
            '市' if in_province && city_end.is_none() => city_end = Some(i + 1),
            _ => {}
        }
    }
    city_end
}

/// Address: keeps the text down to the district and hides the rest:
/// "浙江省杭州市西湖区文三路90号" → "浙江省杭州市西湖区***". A Latin-script address with
/// commas keeps only its last, least precise part: "12 Baker Street, London" →
/// "***, London". Otherwise the first third of the characters is kept, then "***".
pub fn mask_address(raw: &str) -> String {
    let text = raw.trim();
    if text.is_empty() || text.ends_with("***") {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    if let Some(end) = district_end(&chars) {
        let kept: String = chars.iter().take(end).collect();
        return format!("{kept}***");
    }
    // Only for non-CJK text: a Chinese address is written large to small, so its last
    // comma part would be the most precise one.
    if !chars.iter().any(|c| is_cjk(*c)) {
        let parts: Vec<&str> = text
            .split([',', '，'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        if let [_, .., last] = parts.as_slice() {
            return format!("***, {last}");
        }
    }
    let kept: String = chars.iter().take(chars.len() / 3).collect();
    format!("{kept}***")
}

/// Free text (notes, custom fields) with every phone- or e-mail-like part masked, for
/// whoever sees the customer's contacts masked: a phone number typed into the notes or
/// imported into a second phone column must not show where the phone field is masked.
/// Each character is read in its NFKC form, so full-width digits (１３９…), `＠` and
/// ideographic spaces count as their ASCII forms (and `。` as a dot); what is not masked
/// is shown as written. A run of 7 or more digits (with `+`, spaces, tabs, line breaks,
/// `-`, `.`, `/`, `(`, `)`, `_`, `~`, `*`, `·`, `–`, `—` between them, and commas or `、`
/// between two digits) is a phone, unless it is a real date (2026-12-01, 2026.1.5,
/// 2027/1/5) or an amount or list that `is_phone_run` tells apart; a word with an `@`
/// and something on both sides of it is an e-mail address. The server's
/// `pool_private.mask_in_text` is the same function in SQL.
pub fn mask_in_text(text: &str) -> std::borrow::Cow<'_, str> {
    use unicode_normalization::UnicodeNormalization;
    if !may_hold_contact(text) {
        return std::borrow::Cow::Borrowed(text);
    }
    // Each character's NFKC form, with the index of the character it came from.
    let original: Vec<char> = text.chars().collect();
    let mut chars = Vec::with_capacity(original.len());
    let mut from = Vec::with_capacity(original.len());
    for (k, &c) in original.iter().enumerate() {
        if c.is_ascii() {
            chars.push(c);
            from.push(k);
        } else {
            for n in std::iter::once(c).nfkc() {
                // The ideographic full stop a Chinese keyboard types in "qq。com".
                chars.push(if n == '。' { '.' } else { n });
                from.push(k);
            }
        }
    }
    let digits = chars.iter().filter(|c| c.is_ascii_digit()).count();
    if digits < 7 && !chars.contains(&'@') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    // The next original character not yet shown or replaced.
    let mut next = 0;
    let mut i = 0;
    while i < chars.len() {
        // What replaces chars[i..end]; None: they are shown as written.
        let (masked, end) = if let Some(end) = email_at(&chars, i) {
            let (masked, end) = mask_email_at(&chars, i, end);
            (Some(masked), end)
        } else if chars[i].is_ascii_digit()
            || (chars[i] == '+' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            // A phone number: digits and separators, ending on a digit, 7+ digits; or a
            // mobile typed in groups after commas and spaces.
            let (last_digit, digits) = match spaced_mobile(&chars, i) {
                Some(last) => (last, 11),
                None => phone_run(&chars, i),
            };
            let run: String = chars[i..=last_digit].iter().collect();
            let masked = is_phone_run(&run, digits).then(|| mask_phone(&run));
            (masked, last_digit + 1)
        } else {
            (None, i + 1)
        };
        match masked {
            Some(m) => {
                out.push_str(&m);
                changed = true;
                next = next.max(from[end - 1] + 1);
            }
            None => {
                for &k in &from[i..end] {
                    if k >= next {
                        out.push(original[k]);
                        next = k + 1;
                    }
                }
            }
        }
        i = end;
    }
    if changed {
        std::borrow::Cow::Owned(out)
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// The run of digits and separators that starts with the digit (or `+`) at `chars[i]`:
/// the index of its last digit and how many digits it holds. It ends before an e-mail
/// address that starts inside it ("room 12 3li@qq.com", "12 +1li@qq.com": the address
/// is masked as one, not left behind a number that took its first characters).
fn phone_run(chars: &[char], i: usize) -> (usize, usize) {
    let (mut j, mut last_digit, mut digits) = (i, i, 0);
    while j < chars.len() && (chars[j].is_ascii_digit() || run_separator(chars, j)) {
        if j > i && email_at(chars, j).is_some() {
            break;
        }
        if chars[j].is_ascii_digit() {
            digits += 1;
            last_digit = j;
        }
        j += 1;
    }
    (last_digit, digits)
}

/// A mobile number typed in groups with a comma (or `、`) and spaces between them, from
/// the digit at `chars[i]`: "138, 0013, 8000", "138 ,0013 ,8000". A list ("1, 2, 3") ends
/// a run at its comma and space; this is the one shape that joins across them: 3 digits
/// starting with 13–19, then 4, then 4, the gaps made of phone separators and at most
/// one comma or `、` each, one gap holding a comma and a space, the last group ending
/// there ("报价 1200, 1500, 800" is prices). The index of its last digit.
fn spaced_mobile(chars: &[char], i: usize) -> Option<usize> {
    if chars.get(i) != Some(&'1') || !chars.get(i + 1).is_some_and(|c| ('3'..='9').contains(c)) {
        return None;
    }
    let (mut j, mut comma_space) = (i, false);
    for (k, want) in [3, 4, 4].into_iter().enumerate() {
        if k > 0 {
            let gap = j;
            let mut commas = 0;
            while j < chars.len() && !chars[j].is_ascii_digit() {
                if matches!(chars[j], ',' | '、') {
                    commas += 1;
                } else if !phone_separator(chars[j]) {
                    return None;
                }
                j += 1;
            }
            if j == gap || j == chars.len() || commas > 1 || email_at(chars, j).is_some() {
                return None;
            }
            comma_space |= commas == 1 && chars[gap..j].contains(&' ');
        }
        let start = j;
        while j < chars.len() && chars[j].is_ascii_digit() {
            j += 1;
        }
        if j - start != want {
            return None;
        }
    }
    comma_space.then_some(j - 1)
}

/// The e-mail address `chars[i..end]` masked, and where the masked part ends. Its shown
/// parts must not complete a phone number with the digits around it: a first character
/// that is a digit right after other digits (only separators between) is hidden too
/// ("12 3***@qq.com" would show "12 3"), and a domain that ends in digits running on
/// into more digits after the address is masked with them as one phone when they make
/// one ("a@000 0000" → "a***@00****0"). A phone run on inside the domain
/// ("qq.com-13800138000") is masked as well.
fn mask_email_at(chars: &[char], i: usize, end: usize) -> (String, usize) {
    let after_digits = {
        let mut k = i;
        while k > 0 && !chars[k - 1].is_ascii_digit() && run_separator_or_comma(chars[k - 1]) {
            k -= 1;
        }
        k > 0 && chars[k - 1].is_ascii_digit()
    };
    let hide_first = |masked: String| {
        if after_digits && chars[i].is_ascii_digit() {
            masked.chars().skip(1).collect()
        } else {
            masked
        }
    };
    let at = i + chars[i..end].iter().rposition(|&c| c == '@').unwrap_or(0);
    // The domain's last group of digits and separators ("000-" in "a@000-"), from its
    // first digit.
    let mut last = end;
    while last > at + 1 && phone_separator(chars[last - 1]) {
        last -= 1;
    }
    if last > at + 1 && chars[last - 1].is_ascii_digit() {
        let mut t = last - 1;
        while t > at + 1 && (chars[t - 1].is_ascii_digit() || phone_separator(chars[t - 1])) {
            t -= 1;
        }
        while !chars[t].is_ascii_digit() {
            t += 1;
        }
        let (last_digit, digits) = phone_run(chars, t);
        let run: String = chars[t..=last_digit].iter().collect();
        if last_digit >= end && is_phone_run(&run, digits) {
            let address: String = chars[i..t].iter().collect();
            let masked = format!(
                "{}{}",
                mask_in_text(&mask_email(&address)),
                mask_phone(&run)
            );
            return (hide_first(masked), last_digit + 1);
        }
    }
    let address: String = chars[i..end].iter().collect();
    (
        hide_first(mask_in_text(&mask_email(&address)).into_owned()),
        end,
    )
}

/// A separator that may join two digits in a run (commas and `、` only between digits).
fn run_separator_or_comma(c: char) -> bool {
    phone_separator(c) || matches!(c, ',' | '、')
}

/// Whether masking could change `text`, without NFKC: 7 ASCII digits, an '@', or any
/// character outside ASCII, CJK ideographs and the common CJK and full-width punctuation
/// (full-width digits, '＠' and every other character whose NFKC form holds a digit —
/// ①, ¹, ㏠ — are outside it). The server's `pool_private.may_hold_contact`.
fn may_hold_contact(text: &str) -> bool {
    let mut digits = 0;
    text.chars().any(|c| {
        digits += usize::from(c.is_ascii_digit());
        digits >= 7
            || c == '@'
            || !(c.is_ascii() && c != '\0'
                || ('\u{3000}'..='\u{303f}').contains(&c)
                || ('\u{4e00}'..='\u{9fff}').contains(&c)
                || ('\u{ff01}'..='\u{ff0f}').contains(&c)
                || ('\u{ff1a}'..='\u{ff1f}').contains(&c)
                || ('\u{ff21}'..='\u{ff5e}').contains(&c))
    })
}

/// A separator inside a phone-like run of digits.
fn phone_separator(c: char) -> bool {
    matches!(
        c,
        '+' | ' '
            | '\t'
            | '\n'
            | '\r'
            | '-'
            | '.'
            | '/'
            | '('
            | ')'
            | '_'
            | '~'
            | '*'
            | '·'
            | '–'
            | '—'
    )
}

/// Whether `chars[j]` continues a run of digits: a phone separator, or a comma or `、`
/// with a digit right before and after it ("139,1234,5678", "139、1234、5678"; a
/// full-width `，` is a comma in NFKC form). After a comma and a space, a new number
/// starts ("1, 2, 3").
fn run_separator(chars: &[char], j: usize) -> bool {
    phone_separator(chars[j])
        || (matches!(chars[j], ',' | '、')
            && j > 0
            && chars[j - 1].is_ascii_digit()
            && chars.get(j + 1).is_some_and(char::is_ascii_digit))
}

/// Whether a run of digits and separators (from the first digit or `+` to the last
/// digit) is a phone number. Without commas or `、`: 7 or more digits, unless it is a
/// date. Joined by them, an amount ("1,234,567.00") or a list of years or dates is not;
/// the run is a phone when one of its comma parts is one on its own, when it holds 11
/// digits starting with 1 (a mobile, "13,912,345,678" as a spreadsheet formats it), or
/// when a part that is neither a date nor a year (19xx, 20xx) holds 4 digits in a row
/// ("139,1234,5678", "6234、5678"): thousands groups have 3.
fn is_phone_run(run: &str, digits: usize) -> bool {
    if digits < 7 {
        return false;
    }
    if !run.contains([',', '、']) {
        return !is_date(run);
    }
    let first_digit = run.chars().find(char::is_ascii_digit);
    if digits == 11 && first_digit == Some('1') {
        return true;
    }
    run.split([',', '、']).any(|part| {
        let part_digits = part.chars().filter(char::is_ascii_digit).count();
        if is_date(part) {
            return false;
        }
        if part_digits >= 7 {
            return true;
        }
        let year = part.len() == 4 && (part.starts_with("19") || part.starts_with("20"));
        !year
            && part
                .split(|c: char| !c.is_ascii_digit())
                .any(|group| group.len() >= 4)
    })
}

/// `YYYY-MM-DD` (or with `.` or `/`, one- or two-digit month and day) of a real day
/// between 1900 and 2099: a date typed into a note or a date field, not a phone number.
/// "6234-56-78" is a landline.
fn is_date(run: &str) -> bool {
    let Some(sep) = run.chars().find(|c| matches!(c, '-' | '.' | '/')) else {
        return false;
    };
    let parts: Vec<&str> = run.split(sep).collect();
    let number = |p: &str, min: usize, max: usize| {
        ((min..=max).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<u32>().ok())
            .flatten()
    };
    let [y, m, d] = parts.as_slice() else {
        return false;
    };
    let (Some(y), Some(m), Some(d)) = (number(y, 4, 4), number(m, 1, 2), number(d, 1, 2)) else {
        return false;
    };
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    (1900..=2099).contains(&y) && (1..=days).contains(&d)
}

/// A character of an e-mail-like word (in NFKC form): ASCII letters and digits,
/// `. _ - + % @`, and any character outside ASCII except spaces and punctuation
/// (U+0080–U+00BF, U+2000–U+206F, U+3000–U+303F, U+FE10–U+FE1F, U+FE30–U+FE6F,
/// U+FF00–U+FFEF): a name in Chinese ("李华@163.com") is a local part too. The ranges
/// are spelled out so that the server's regular expression is the same set.
fn email_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '@' | '%');
    }
    !matches!(c,
        '\u{80}'..='\u{bf}'
        | '\u{2000}'..='\u{206f}'
        | '\u{3000}'..='\u{303f}'
        | '\u{fe10}'..='\u{fe1f}'
        | '\u{fe30}'..='\u{fe6f}'
        | '\u{ff00}'..='\u{ffef}')
}

/// Where an e-mail-like word starting at `i` ends: it must start a word and hold an '@'
/// with something before and after it ("li@localhost" and "li@qqcom" are addresses
/// too: a masked reader must not see them whole).
fn email_at(chars: &[char], i: usize) -> Option<usize> {
    if !email_char(chars[i]) || (i > 0 && email_char(chars[i - 1])) {
        return None;
    }
    let mut end = i;
    while end < chars.len() && email_char(chars[end]) {
        end += 1;
    }
    // A trailing dot ends the sentence, not the address.
    while end > i && chars[end - 1] == '.' {
        end -= 1;
    }
    let word = &chars[i..end];
    // Leading '@'s ("@lihua@qq.com", a mention glued to an address) are part of the
    // word: its first character shown is then an '@'.
    let lead = word.iter().take_while(|&&c| c == '@').count();
    let at = lead + word[lead..].iter().position(|&c| c == '@')?;
    (at > lead && at + 1 < word.len()).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Digits a masked phone shows of the number itself ("+86 " is the country).
    fn shown_digits(masked: &str) -> usize {
        masked
            .strip_prefix("+86 ")
            .unwrap_or(masked)
            .chars()
            .filter(char::is_ascii_digit)
            .count()
    }

    #[test]
    fn masked_values_are_not_masked_twice_and_stars_reveal_nothing() {
        assert_eq!(mask_phone("139****5678"), "139****5678");
        assert_eq!(mask_email("l***@qq.com"), "l***@qq.com");
        assert_eq!(mask_email(&mask_email("lihua@qq.com")), "l***@qq.com");
        // A stored address with stars in it is masked like any other.
        assert_eq!(mask_email("ab***@qq.com"), "a***@qq.com");
        assert_eq!(mask_email("abc***x@qq.com"), "a***@qq.com");
    }

    #[test]
    fn phone_examples() {
        assert_eq!(mask_phone("13800138000"), "138****8000");
        assert_eq!(mask_phone("138 0013 8000"), "138****8000");
        assert_eq!(mask_phone("１３８００１３８０００"), "138****8000");
        assert_eq!(mask_phone("+86 138 0013 8000"), "+86 138****8000");
        assert_eq!(mask_phone("8613800138000"), "+86 138****8000");
        assert_eq!(mask_phone("0086 138 0013 8000"), "+86 138****8000");
        assert_eq!(mask_phone("13800138000 转 123"), "138****8000");
        assert_eq!(mask_phone("0571-88886666"), "057******666");
        assert_eq!(mask_phone("010-62345678"), "010****5678");
        assert_eq!(mask_phone("+86 0571 8888 6666"), "+86 057******666");
        assert_eq!(mask_phone("+44 20 7946 0958"), "+442******958");
        assert_eq!(mask_phone("88886666"), "88****66");
        assert_eq!(mask_phone("12345"), "12**5");
        assert_eq!(mask_phone("1234"), "****");
        assert_eq!(mask_phone("123"), "****");
        assert_eq!(mask_phone("n/a"), "****");
        assert_eq!(mask_phone("12345678901234567890"), "1234*************890");
        assert_eq!(mask_phone(""), "");
        assert_eq!(mask_phone("   "), "");
    }

    #[test]
    fn email_examples() {
        assert_eq!(mask_email("lihua@qq.com"), "l***@qq.com");
        assert_eq!(mask_email(" 李华@163.com "), "李***@163.com");
        assert_eq!(mask_email("a@b@qq.com"), "a***@qq.com");
        assert_eq!(mask_email("@qq.com"), "***@qq.com");
        assert_eq!(mask_email("lihua"), "***");
        assert_eq!(mask_email(""), "***");
    }

    #[test]
    fn address_examples() {
        assert_eq!(
            mask_address("浙江省杭州市西湖区文三路90号"),
            "浙江省杭州市西湖区***"
        );
        assert_eq!(
            mask_address("上海市浦东新区世纪大道100号"),
            "上海市浦东新区***"
        );
        assert_eq!(
            mask_address("浙江省杭州市建德县新安江街道"),
            "浙江省杭州市建德县***"
        );
        assert_eq!(
            mask_address("内蒙古自治区呼和浩特市新城区中山路1号"),
            "内蒙古自治区呼和浩特市新城区***"
        );
        assert_eq!(
            mask_address("内蒙古自治区阿拉善盟阿拉善左旗巴彦浩特镇"),
            "内蒙古自治区阿拉善盟阿拉善左旗***"
        );
        assert_eq!(
            mask_address("广东省东莞市长安镇振安路8号"),
            "广东省东莞市***"
        );
        assert_eq!(mask_address("杭州文三路90号A区3栋"), "杭州文三***");
        assert_eq!(mask_address("某某路1号"), "某***");
        assert_eq!(mask_address("12 Baker Street, London"), "***, London");
        assert_eq!(
            mask_address("221B Baker Street, London, NW1 6XE, UK,"),
            "***, UK"
        );
        assert_eq!(mask_address("10 Downing Street"), "10 Do***");
        assert_eq!(mask_address("ab"), "***");
        assert_eq!(mask_address("  "), "");
    }

    proptest! {
        #[test]
        fn mask_phone_shows_at_most_7_digits(s in any::<String>()) {
            let m = mask_phone(&s);
            prop_assert!(shown_digits(&m) <= 7, "{} -> {}", s, m);
        }

        #[test]
        fn phone_like_masks_show_at_most_7_digits(s in "[+(]{0,2}[0-9 ()-]{0,30}(转[0-9]{1,3})?") {
            let m = mask_phone(&s);
            prop_assert!(shown_digits(&m) <= 7, "{} -> {}", s, m);
        }

        #[test]
        fn eleven_digits_show_exactly_four_stars(s in "[0-9]{11}") {
            let m = mask_phone(&s);
            prop_assert_eq!(m.matches('*').count(), 4, "{} -> {}", s, m);
        }

        #[test]
        fn mask_email_hides_the_name(local in "[a-z0-9._%+-]{2,30}", domain in "[a-z0-9-]{1,20}\\.[a-z]{2,6}") {
            let m = mask_email(&format!("{local}@{domain}"));
            let shown = m.split('@').next().unwrap_or_default();
            prop_assert!(!shown.contains(&local), "{}", m);
            prop_assert!(m.ends_with(&format!("@{domain}")), "{}", m);
        }

        #[test]
        fn mask_email_never_panics(s in any::<String>()) {
            let m = mask_email(&s);
            prop_assert!(m.contains("***"));
        }

        #[test]
        fn mask_address_never_panics_and_always_hides(s in any::<String>()) {
            let m = mask_address(&s);
            prop_assert_eq!(m.is_empty(), s.trim().is_empty());
            prop_assert!(m.is_empty() || m.contains("***"));
        }

        #[test]
        fn cjk_addresses_never_panic(s in "[省市区县旗自治行政盟镇路号，, a-z0-9杭州西湖]{0,40}") {
            let m = mask_address(&s);
            prop_assert!(m.is_empty() || m.contains("***"));
        }
    }

    #[test]
    fn contacts_inside_text_are_masked() {
        assert_eq!(
            mask_in_text("客户手机 13800138000，邮箱 lihua@qq.com。"),
            "客户手机 138****8000，邮箱 l***@qq.com。"
        );
        assert_eq!(
            mask_in_text("call +86 138-0013-8000 after 5pm"),
            "call +86 138****8000 after 5pm"
        );
        assert_eq!(
            mask_in_text("order 12345, room 302"),
            "order 12345, room 302"
        );
        // Any word with an '@' inside: "li@localhost" is an address too.
        assert_eq!(mask_in_text("a@b is short"), "a***@b is short");
        assert_eq!(mask_in_text("@张三 a @ b"), "@张三 a @ b");
        assert_eq!(
            mask_in_text("write to x.y@corp.cn."),
            "write to x***@corp.cn."
        );
        // Dates are not phone numbers; a phone with dots still is.
        assert_eq!(
            mask_in_text("签约 2026-12-01, 2027/1/5, 2027.01.15"),
            "签约 2026-12-01, 2027/1/5, 2027.01.15"
        );
        assert_eq!(mask_in_text("138.0013.8000"), mask_phone("138.0013.8000"));
        assert_ne!(mask_in_text("2026-12-01-5555"), "2026-12-01-5555");
        assert_eq!(mask_in_text(""), "");
    }

    #[test]
    fn full_width_and_slashed_contacts_inside_text_are_masked() {
        // Typed on a Chinese keyboard or pasted from Excel: read in NFKC form.
        assert_eq!(
            mask_in_text("老板手机：１３９１２３４５６７８，晚上打"),
            "老板手机：139****5678，晚上打"
        );
        assert_eq!(mask_in_text("boss＠corp.cn"), "b***@corp.cn");
        assert_eq!(mask_in_text("139\u{3000}1234\u{3000}5678"), "139****5678");
        // Other separators people type, and the ideographic full stop in an address.
        for typed in [
            "138_0013_8000",
            "138—0013—8000",
            "138·0013·8000",
            "138~0013~8000",
            "138～0013～8000",
            "138*0013*8000",
        ] {
            assert_eq!(mask_in_text(typed), "138****8000", "{typed}");
        }
        assert_eq!(mask_in_text("lihua@qq。com"), "l***@qq.com");
        assert_eq!(
            mask_in_text("lihua@qq.com-13800138000"),
            "l***@qq.com-138****8000"
        );
        assert_eq!(mask_in_text("lihua＠qq｡com，好"), "l***@qq.com，好");
        // Split by slashes or line breaks, still one number.
        assert_eq!(mask_in_text("139/1234/5678"), "139****5678");
        assert_ne!(mask_in_text("0571/8888/6666"), "0571/8888/6666");
        assert_eq!(mask_in_text("139\n1234\n5678"), "139****5678");
        // Nothing to mask: the text as it was, not its NFKC form.
        assert_eq!(mask_in_text("ＡＢＣ　１２３"), "ＡＢＣ　１２３");
        assert_eq!(mask_in_text("２０２６／１２／０１"), "２０２６／１２／０１");
    }

    #[test]
    fn phones_split_by_commas_are_masked_and_amounts_are_not() {
        for typed in [
            "139,1234,5678",
            "139、1234、5678",
            "139，1234，5678",
            "139､1234､5678",
            "13,912,345,678",
            "139-1234,5678",
        ] {
            assert_eq!(mask_in_text(typed), "139****5678", "{typed}");
        }
        assert_eq!(mask_in_text("座机 6234、5678。"), "座机 62****78。");
        assert_eq!(mask_in_text("0571,8888,6666"), mask_phone("057188886666"));
        assert_eq!(
            mask_in_text("2024,13912345678"),
            mask_phone("202413912345678")
        );
        for plain in [
            "合同金额 1,234,567.00 元",
            "12,345,678",
            "报价 100,200,300 三档",
            "第1、2、3、4、5、6、7条",
            "1, 2, 3, 4, 5, 6, 7",
            "2024、2025、2026年",
            "签约 2026-12-01,2027-01-05",
            "139, 1234",
            "第1, 2, 3, 4, 5, 6, 7, 8, 9, 10条",
            "报价 100, 200, 300, 400",
            "123, 456, 7890",
            "13, 800, 138, 0000",
            "报价 1200, 1500, 800 三档",
            "数量 1, 500, 800, 1200",
            "1, 380, 013, 8000",
            "1380, 0138, 000",
            "120, 0013, 8000",
        ] {
            assert_eq!(mask_in_text(plain), plain);
        }
        // A mobile typed in groups after a comma and a space (a spreadsheet's or a
        // careful typist's "138, 0013, 8000").
        for typed in [
            "138, 0013, 8000",
            "138,  0013,  8000",
            "138、 0013、 8000",
            "138， 0013， 8000",
            "138, 0013 8000",
            "138 , 0013 , 8000",
            "138 ,0013 ,8000",
        ] {
            assert_eq!(mask_in_text(typed), "138****8000", "{typed}");
        }
        assert_eq!(
            mask_in_text("电话：138, 0013, 8000，谢谢"),
            "电话：138****8000，谢谢"
        );
    }

    #[test]
    fn addresses_without_a_dot_or_in_chinese_are_masked() {
        assert_eq!(
            mask_in_text("邮箱 li@qqcom 或 li@localhost"),
            "邮箱 l***@qqcom 或 l***@localhost"
        );
        assert_eq!(mask_in_text("李华@163.com"), "李***@163.com");
        assert_eq!(
            mask_in_text("联系：李华＠１６３．ｃｏｍ，谢谢"),
            "联系：李***@163.com，谢谢"
        );
        assert_eq!(mask_in_text("ｌｉｈｕａ＠ｑｑ．ｃｏｍ"), "l***@qq.com");
        assert_eq!(mask_in_text("Ünal@example.de"), "Ü***@example.de");
    }

    #[test]
    fn an_address_shows_no_digits_that_complete_a_phone_next_to_it() {
        // A domain ending in digits, then more digits: masked together as one number.
        assert_eq!(mask_in_text("a@1２3\n4567"), "a***@12****7");
        assert_eq!(mask_in_text("a@123-\n4567"), "a***@12****7");
        assert_eq!(mask_in_text("li@qq.com 1234"), "l***@qq.com 1234");
        assert_eq!(mask_in_text("li@host12 34"), "l***@host12 34");
        // An address starting inside a run of digits is an address, and its first
        // character is hidden when digits stand right before it.
        assert_eq!(mask_in_text("room 12 3li@qq.com"), "room 12 ***@qq.com");
        assert_eq!(mask_in_text("2026/12/01abc@x.com"), "2026/12/***@x.com");
        assert_eq!(
            mask_in_text("13800138000 1abc@qq.com"),
            "138****8000 ***@qq.com"
        );
        assert_eq!(
            mask_in_text("13800138000 abc@qq.com"),
            "138****8000 a***@qq.com"
        );
        // Starting with a separator that may begin an address (hostile review, session 12).
        assert_eq!(mask_in_text("12 +1lihua@qq.com"), "12 +***@qq.com");
        assert_eq!(mask_in_text("房间 3 -2wang@qq.com"), "房间 3 -***@qq.com");
        assert_eq!(
            mask_in_text("13800138000 .9wang@qq.com"),
            "138****8000 .***@qq.com"
        );
        assert_eq!(
            mask_in_text("2026-12-01 _1boss@corp.cn"),
            "2026-12-01 _***@corp.cn"
        );
    }

    #[test]
    fn an_address_behind_at_signs_is_an_address() {
        assert_eq!(mask_in_text("@lihua@qq.com"), "@***@qq.com");
        assert_eq!(mask_in_text("cc:@lihua@qq.com"), "cc:@***@qq.com");
        assert_eq!(mask_in_text("＠lihua＠qq.com"), "@***@qq.com");
        assert_eq!(
            mask_in_text("张总 cc:@@zhang.boss@corp.cn"),
            "张总 cc:@***@corp.cn"
        );
        // A mention alone is not an address.
        assert_eq!(mask_in_text("@张三 看一下"), "@张三 看一下");
        assert_eq!(mask_in_text("@@x"), "@@x");
    }

    #[test]
    fn impossible_dates_are_phones() {
        assert_eq!(mask_in_text("6234-56-78"), "62****78");
        assert_eq!(mask_in_text("2023-02-29"), "20****29");
        assert_eq!(mask_in_text("6234-12-01"), "62****01");
        for date in ["2024-02-29", "2026-12-31", "1999/1/1", "2027.01.15"] {
            assert_eq!(mask_in_text(date), date);
        }
    }

    proptest::proptest! {
        /// Any mobile typed as 3 + 4 + 4 digits with a comma (any width) or `、` and
        /// spaces between the groups is masked as the number itself, inside text too.
        #[test]
        fn mobiles_in_comma_and_space_groups_are_masked(d in "1[3-9][0-9]{9}", sep in "[,、，] {1,2}", tail in "[，。 a-z]{0,3}") {
            let typed = format!("{}{sep}{}{sep}{}{tail}", &d[..3], &d[3..7], &d[7..]);
            proptest::prop_assert_eq!(mask_in_text(&typed).into_owned(), format!("{}{tail}", mask_phone(&d)));
        }

        /// No run of 7+ consecutive digits of the input survives masking.
        #[test]
        fn no_long_digit_run_survives(s in "[0-9 a-z@.+()-]{0,60}") {
            let m = mask_in_text(&s);
            let mut run = 0;
            for c in m.chars() {
                run = if c.is_ascii_digit() { run + 1 } else { 0 };
                proptest::prop_assert!(run < 7, "{s:?} -> {m:?}");
            }
        }

        /// With full-width digits, ideographic spaces and slashes in the mix: no run of
        /// 7+ digits (separators between them ignored) survives unless it is a date.
        /// The input holds no '*', so a '*' in the output is a mask's, and it splits the
        /// run: an 11-digit mobile's mask shows 3 + 4 digits by design ("138****8000").
        #[test]
        fn no_phone_survives_in_any_width(s in "[0-9０-９ 　/／a-z@＠.+()\n-]{0,60}") {
            let m = mask_in_text(&s);
            let normal: String = unicode_normalization::UnicodeNormalization::nfkc(m.as_ref()).collect();
            let chars: Vec<char> = normal.chars().collect();
            let mut i = 0;
            while i < chars.len() {
                if !chars[i].is_ascii_digit() {
                    i += 1;
                    continue;
                }
                let (mut j, mut last, mut digits) = (i, i, 0);
                while j < chars.len() && (chars[j].is_ascii_digit() || (phone_separator(chars[j]) && chars[j] != '*')) {
                    if chars[j].is_ascii_digit() {
                        digits += 1;
                        last = j;
                    }
                    j += 1;
                }
                let run: String = chars[i..=last].iter().collect();
                proptest::prop_assert!(digits < 7 || is_date(&run), "{s:?} -> {m:?}");
                i = last + 1;
            }
        }
    }
}
