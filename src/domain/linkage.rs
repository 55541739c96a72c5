//! The Fellegi–Sunter record-linkage model: how much each field's agreement or
//! disagreement says about two customer records being the same person. Pure.
//!
//! - Each field compares at one of a few **levels** (name: exact / Jaro-Winkler ≥ .92 /
//!   ≥ .80 / order swapped / one Chinese character off / different; a missing value on
//!   either side is neutral and counts for nothing).
//! - **u** = P(level | two different people): measured on random pairs of the data.
//! - **m** = P(level | the same person): estimated by expectation–maximisation over the
//!   blocked candidate pairs, with u fixed. No labels, no hand-set weights: the starting
//!   values below only seed EM and are forgotten once the data speak.
//! - **Term frequencies**: agreeing exactly on 王伟 or Sydney says less than agreeing on
//!   a rare name; the u of an exact agreement is the share of records with that value.
//! - A pair's weight is log2 of its odds: the prior (share of matches among candidate
//!   pairs) plus each field's log2 Bayes factor. The per-field terms are the "why".
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};
use strsim::{jaro_winkler, levenshtein, osa_distance};

use super::matching::Record;

pub const FIELDS: usize = 6;
/// The level code of a comparison where either side has no value.
pub const MISSING: u8 = 15;

/// A record's match keys, borrowed: from a `Record`, or from the packed buffer the scan
/// compares on (`matching::Packed`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Keys<'a> {
    pub name: &'a str,
    pub name_sorted: &'a str,
    pub name_sound: &'a str,
    pub company: &'a str,
    pub phone: Option<&'a str>,
    pub email: Option<&'a str>,
    pub city: &'a str,
    pub address: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Name,
    Phone,
    Email,
    Company,
    City,
    Address,
}

pub const ALL_FIELDS: [Field; FIELDS] = [
    Field::Name,
    Field::Phone,
    Field::Email,
    Field::Company,
    Field::City,
    Field::Address,
];

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Phone => "phone",
            Field::Email => "email",
            Field::Company => "company",
            Field::City => "city",
            Field::Address => "address",
        }
    }

    /// What each level means, best first (index = level code).
    pub fn levels(self) -> &'static [&'static str] {
        match self {
            Field::Name => &[
                "same name",
                "similar name (Jaro-Winkler ≥ 0.92)",
                "similar name (Jaro-Winkler ≥ 0.80)",
                "name order swapped",
                "name one character off",
                "name mostly the same characters, any order",
                "different name",
                "same sound, other characters",
                "one character dropped, the rest sounds the same",
            ],
            Field::Phone => &[
                "same phone",
                "phone one digit off or two swapped",
                "different phone",
            ],
            Field::Email => &[
                "same email",
                "email one or two typos",
                "same email local part, other domain",
                "different email",
            ],
            Field::Company => &[
                "same company",
                "similar company",
                "partly same company",
                "different company",
            ],
            Field::City => &["same city", "different city"],
            Field::Address => &[
                "same address",
                "similar address",
                "partly same address",
                "different address",
            ],
        }
    }

    /// The number of levels (a stored model of another shape is stale).
    pub fn level_count(self) -> usize {
        self.levels().len()
    }

    /// Fields whose exact agreement is weighed by how common the value is.
    fn term_frequency_slot(self) -> Option<usize> {
        match self {
            Field::Name => Some(0),
            Field::Phone => Some(1),
            Field::Email => Some(2),
            Field::Company => Some(3),
            Field::City => Some(4),
            Field::Address => None,
        }
    }
}

/// Fields weighed by their values' frequencies (`Field::term_frequency_slot`).
pub const TF_FIELDS: usize = 5;

fn is_cjk(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c) || ('\u{3400}'..='\u{4dbf}').contains(&c)
}

/// Strings up to this many characters are compared on the stack; longer ones by strsim.
const SHORT: usize = 64;

/// A string's characters in a stack buffer (None when longer than `SHORT`).
struct Chars {
    buf: [char; SHORT],
    len: usize,
}

impl Chars {
    fn of(s: &str) -> Option<Chars> {
        let mut c = Chars {
            buf: ['\0'; SHORT],
            len: 0,
        };
        for ch in s.chars() {
            *c.buf.get_mut(c.len)? = ch;
            c.len += 1;
        }
        Some(c)
    }

    fn as_slice(&self) -> &[char] {
        &self.buf[..self.len]
    }
}

/// Jaro-Winkler exactly as `strsim::jaro_winkler` computes it, without allocating
/// (the comparison runs on millions of pairs).
pub fn jw(a: &str, b: &str) -> f64 {
    // ASCII (most Latin names, e-mails, addresses): on the bytes, nothing copied.
    if a.len() <= SHORT && b.len() <= SHORT && a.is_ascii() && b.is_ascii() {
        return jw_bytes(a.as_bytes(), b.as_bytes());
    }
    let (Some(x), Some(y)) = (Chars::of(a), Chars::of(b)) else {
        return jaro_winkler(a, b);
    };
    jw_of(x.as_slice(), y.as_slice())
}

/// `jw(a, b)` when it can reach `floor`, else 0: the levels only ask whether it reaches
/// a threshold of at least `floor`. Jaro's matches are at most the characters the two
/// share in any order, and Winkler's bonus at most 0.4 of the rest, so two ASCII
/// strings sharing too few characters are settled without the quadratic scan.
fn jw_from(a: &str, b: &str, floor: f64) -> f64 {
    if !a.is_empty() && !b.is_empty() {
        // Other scripts (汉字 company names): the characters each shares at most, by a
        // quick test of membership, against the lengths in characters.
        let (s, la, lb) = if a.is_ascii() && b.is_ascii() {
            (shared_chars(a, b), a.len(), b.len())
        } else {
            (shared_at_most(a, b), a.chars().count(), b.chars().count())
        };
        let s = s as f64;
        let jaro = (s / la as f64 + s / lb as f64 + 1.0) / 3.0;
        if 0.6 * jaro + 0.4 < floor {
            return 0.0;
        }
    }
    jw(a, b)
}

/// At least `shared_chars(x, y)`: the characters of `x` whose bit is set in a 64-bit
/// fingerprint of `y`'s (a character shared is always counted; one whose bit another
/// character of `y` set is counted too, which only loosens the bound).
fn shared_at_most(x: &str, y: &str) -> usize {
    let bit = |c: char| 1u64 << (u32::from(c) % 64);
    let in_y = y.chars().fold(0u64, |m, c| m | bit(c));
    x.chars().filter(|c| in_y & bit(*c) != 0).count()
}

/// `jw_of` on bytes, bit-parallel: each byte of `b` has the mask of its positions, so
/// the first unmatched equal byte in the window is the lowest bit of an AND (no scan of
/// the window, no branch on each comparison). The same matches, in the same order.
/// Both at most `SHORT` bytes long.
fn jw_bytes(a: &[u8], b: &[u8]) -> f64 {
    debug_assert!(a.len() <= SHORT && b.len() <= SHORT);
    if a.is_empty() || b.is_empty() {
        return jw_of(a, b);
    }
    let range = (a.len().max(b.len()) / 2).saturating_sub(1);
    let mut at = [0u64; 128];
    for (j, &c) in b.iter().enumerate() {
        at[usize::from(c & 127)] |= 1 << j;
    }
    let (mut a_flags, mut b_flags) = (0u64, 0u64);
    let mut matches = 0usize;
    for (i, &c) in a.iter().enumerate() {
        let lo = i.saturating_sub(range);
        let hi = (i + range + 1).min(b.len());
        if lo >= hi {
            continue;
        }
        // Bits lo..hi.
        let window = (u64::MAX >> (64 - (hi - lo))) << lo;
        let free = at[usize::from(c & 127)] & window & !b_flags;
        if free != 0 {
            b_flags |= free & free.wrapping_neg();
            a_flags |= 1 << i;
            matches += 1;
        }
    }
    if matches == 0 {
        return 0.0;
    }
    jaro_winkler_of_matches(a, b, a_flags, b_flags, matches)
}

/// Jaro-Winkler of two sequences of at most `SHORT` items.
fn jw_of<T: PartialEq>(a: &[T], b: &[T]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return if a.is_empty() && b.is_empty() {
            1.0
        } else {
            0.0
        };
    }
    let range = (a.len().max(b.len()) / 2).saturating_sub(1);
    // Which items matched: a bit each (at most `SHORT` = 64 items).
    let (mut a_flags, mut b_flags) = (0u64, 0u64);
    let mut matches = 0usize;
    for (i, ca) in a.iter().enumerate() {
        let window = b.iter().enumerate().take(i + range + 1);
        for (j, cb) in window.skip(i.saturating_sub(range)) {
            if b_flags & (1 << j) == 0 && ca == cb {
                a_flags |= 1 << i;
                b_flags |= 1 << j;
                matches += 1;
                break;
            }
        }
    }
    if matches == 0 {
        return 0.0;
    }
    jaro_winkler_of_matches(a, b, a_flags, b_flags, matches)
}

/// Jaro-Winkler from the items of `a` and of `b` that matched (a bit each, `matches`
/// of them, at least one): the matched items of each in order, a pair out of place
/// half a transposition, and Winkler's bonus for a common prefix.
fn jaro_winkler_of_matches<T: PartialEq>(
    a: &[T],
    b: &[T],
    a_flags: u64,
    b_flags: u64,
    matches: usize,
) -> f64 {
    let (mut fa, mut fb) = (a_flags, b_flags);
    let mut transpositions = 0usize;
    while fa != 0 {
        let (i, j) = (fa.trailing_zeros() as usize, fb.trailing_zeros() as usize);
        transpositions += usize::from(a[i] != b[j]);
        fa &= fa - 1;
        fb &= fb - 1;
    }
    let m = matches as f64;
    let sim =
        (m / a.len() as f64 + m / b.len() as f64 + (matches - transpositions / 2) as f64 / m) / 3.0;
    if sim > 0.7 {
        let prefix = a.iter().zip(b).take(4).take_while(|(x, y)| x == y).count();
        sim + 0.1 * prefix as f64 * (1.0 - sim)
    } else {
        sim
    }
}

/// The edit distance of `a` and `b` (an adjacent transposition counting one edit when
/// `swaps`: optimal string alignment), or `k + 1` when it is more than `k`. Only the
/// band of width 2k+1 is computed, on the stack: the levels need small distances only.
pub fn distance_within(a: &str, b: &str, k: usize, swaps: bool) -> usize {
    if a.len() <= SHORT && b.len() <= SHORT && a.is_ascii() && b.is_ascii() {
        // An edit changes the longer length less the characters shared in any order by
        // at most one (a swap not at all): more than k apart by that count is more
        // than k edits apart, settled without the table.
        if a.len().max(b.len()) - shared_chars(a, b) > k {
            return k + 1;
        }
        return distance_of(a.as_bytes(), b.as_bytes(), k, swaps);
    }
    let (Some(x), Some(y)) = (Chars::of(a), Chars::of(b)) else {
        let d = if swaps {
            osa_distance(a, b)
        } else {
            levenshtein(a, b)
        };
        return d.min(k + 1);
    };
    distance_of(x.as_slice(), y.as_slice(), k, swaps)
}

/// `distance_within` on two sequences of at most `SHORT` items.
fn distance_of<T: PartialEq>(a: &[T], b: &[T], k: usize, swaps: bool) -> usize {
    // A distance of at most `SHORT` items is below any bound past it: the table keeps
    // bytes (a row of u8 instead of usize, less to clear each call).
    let big = k.min(SHORT) + 1;
    let (mut a, mut b) = (a, b);
    // A common prefix or suffix does not change the distance.
    let p = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    (a, b) = (&a[p..], &b[p..]);
    let q = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    (a, b) = (&a[..a.len() - q], &b[..b.len() - q]);
    let (n, m) = (a.len(), b.len());
    if n.abs_diff(m) > k {
        return big;
    }
    if n == 0 || m == 0 {
        return n.max(m).min(big);
    }
    let (big8, k8) = (big as u8, big as u8 - 1);
    let mut rows = [[0u8; SHORT + 1]; 3];
    for (j, v) in rows[0].iter_mut().enumerate().take(m + 1) {
        *v = j.min(big) as u8;
    }
    let mut prev_over = false;
    for i in 1..=n {
        let (cur, prev, prev2) = (i % 3, (i + 2) % 3, (i + 1) % 3);
        let lo = i.saturating_sub(k).max(1);
        let hi = (i + k).min(m);
        rows[cur][0] = i.min(big) as u8;
        if lo > 1 {
            rows[cur][lo - 1] = big8;
        }
        let mut row_min = if lo == 1 { rows[cur][0] } else { big8 };
        for j in lo..=hi {
            let cost = u8::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[prev][j - 1] + cost)
                .min(rows[prev][j] + 1)
                .min(rows[cur][j - 1] + 1);
            if swaps && i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[prev2][j - 2] + 1);
            }
            let d = d.min(big8);
            rows[cur][j] = d;
            row_min = row_min.min(d);
        }
        if hi < m {
            rows[cur][hi + 1] = big8;
        }
        // Two rows over the bound: nothing after them can come back under it.
        let over = row_min > k8;
        if over && prev_over {
            return big;
        }
        prev_over = over;
    }
    usize::from(rows[n % 3][m].min(big8))
}

/// Two strings of equal length differing in one character or in two adjacent ones
/// swapped (an optimal-string-alignment distance of exactly one).
fn one_substitution_or_swap(x: &str, y: &str) -> bool {
    if !x.is_ascii() || !y.is_ascii() {
        return x.chars().count() == y.chars().count() && distance_within(x, y, 1, true) == 1;
    }
    let (x, y) = (x.as_bytes(), y.as_bytes());
    if x.len() != y.len() {
        return false;
    }
    let mut diff = (0..x.len()).filter(|i| x[*i] != y[*i]);
    match (diff.next(), diff.next(), diff.next()) {
        (Some(_), None, _) => true,
        (Some(i), Some(j), None) => j == i + 1 && x[i] == y[j] && x[j] == y[i],
        _ => false,
    }
}

fn opt(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// `shared_chars` of two ASCII strings, counting `x`'s bytes in `count` (all zero, wide
/// enough for `x.len()`).
fn shared_bytes<N>(x: &[u8], y: &[u8], mut count: [N; 128]) -> usize
where
    N: Copy + PartialEq + From<u8> + std::ops::AddAssign + std::ops::SubAssign,
{
    let (zero, one) = (N::from(0), N::from(1));
    for &c in x {
        count[usize::from(c)] += one;
    }
    // Without a branch on each byte (whether a byte is shared is a coin toss the
    // processor would mispredict half the time).
    let mut shared = 0;
    for &c in y {
        let n = &mut count[usize::from(c)];
        let has = *n != zero;
        *n -= N::from(u8::from(has));
        shared += usize::from(has);
    }
    shared
}

/// Characters two strings share in any order (a multiset intersection), on the stack.
fn shared_chars(x: &str, y: &str) -> usize {
    if x.is_ascii() && y.is_ascii() {
        // A byte a count when no count can pass 255 (half the table to clear of 16-bit
        // counts: this runs several times for every pair).
        return if x.len() <= usize::from(u8::MAX) {
            shared_bytes(x.as_bytes(), y.as_bytes(), [0u8; 128])
        } else {
            shared_bytes(x.as_bytes(), y.as_bytes(), [0u32; 128])
        };
    }
    // Strings longer than `SHORT` characters share nothing here (as the levels have
    // always counted them). Each character of `x` takes the first unused equal one of
    // `y` (a bit each): the same count as sorting both, without copying either.
    if x.chars().count() > SHORT || y.chars().count() > SHORT {
        return 0;
    }
    let (mut used, mut shared) = (0u64, 0);
    for cx in x.chars() {
        if let Some(j) = y
            .chars()
            .enumerate()
            .position(|(j, cy)| cy == cx && used & (1 << j) == 0)
        {
            used |= 1 << j;
            shared += 1;
        }
    }
    shared
}

/// Two names that share all but at most two characters in any order: a swap *and* a
/// typo, or a 汉字 slip in the family name and another in the given name (林帅/琳帅,
/// 张晓东雪/张小冬雪). How much that says (families share a family
/// name, 2-character names share a character by chance) is left to EM and u.
fn mostly_same_characters(x: &str, y: &str, cjk: bool) -> bool {
    let (lx, ly) = (x.chars().count(), y.chars().count());
    let longer = lx.max(ly);
    if lx.abs_diff(ly) > 2 || (!cjk && longer < 6) {
        return false;
    }
    // More than two apart even by the quick bound: not worth the exact count.
    let most = shared_at_most(x, y);
    if most == 0 || longer - most.min(longer) > 2 {
        return false;
    }
    let shared = shared_chars(x, y);
    // A family shares the family name and nothing else: with the same first 汉字,
    // something beyond it must be shared too.
    let beyond_family = !cjk || x.chars().next() != y.chars().next() || shared >= 2;
    shared >= 1 && longer - shared <= 2 && beyond_family
}

/// A name's sound: the toneless pinyin of each 汉字, space-separated; "" for a name
/// without any. An IME slip keeps the sound (张晓东/张小冬 are both "zhang xiao dong").
pub fn sound_of(name: &str) -> String {
    use pinyin::ToPinyin;
    if !name.chars().any(is_cjk) {
        return String::new();
    }
    let mut out = String::with_capacity(name.len() * 2);
    for c in name.chars().filter(|c| is_cjk(*c)) {
        if !out.is_empty() {
            out.push(' ');
        }
        match c.to_pinyin() {
            Some(p) => out.push_str(p.plain()),
            None => out.push(c),
        }
    }
    out
}

/// The longer sound with one syllable (not the first, the family name's) left out is
/// the shorter one: a dropped character, the rest maybe misspelt but sounding the same.
fn one_syllable_dropped(x: &str, y: &str) -> bool {
    let (long, short) = if x.len() >= y.len() { (x, y) } else { (y, x) };
    // Syllables by their spaces (a byte count: most pairs stop here).
    let syllables = |s: &str| s.bytes().filter(|b| *b == b' ').count() + 1;
    let (nl, ns) = (syllables(long), syllables(short));
    if nl != ns + 1 || ns < 2 {
        return false;
    }
    (1..nl).any(|skip| {
        long.split(' ')
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, s)| s)
            .eq(short.split(' '))
    })
}

/// Name level: exact / JW ≥ .92 / JW ≥ .80 / swapped / one Chinese character off in
/// sound / mostly the same characters / different / same sound / one character
/// dropped.
pub fn name_level(a: &Keys, b: &Keys) -> u8 {
    let (Some(x), Some(y)) = (opt(a.name), opt(b.name)) else {
        return MISSING;
    };
    if x == y {
        return 0;
    }
    let cjk = x.chars().any(is_cjk) || y.chars().any(is_cjk);
    if cjk {
        // Jaro-Winkler means little on two or three characters; the sound tells an IME
        // slip (王伟/王玮, the same "wang wei") from a sibling (王伟/王明).
        if !a.name_sound.is_empty() && a.name_sound == b.name_sound {
            return 7;
        }
        if one_syllable_dropped(a.name_sound, b.name_sound) {
            return 8;
        }
        let (lx, ly) = (x.chars().count(), y.chars().count());
        if lx.min(ly) >= 2
            && x.chars().next() == y.chars().next()
            && distance_within(x, y, 1, false) == 1
        {
            return 4;
        }
        if a.name_sorted == b.name_sorted {
            return 3;
        }
        if mostly_same_characters(x, y, true) {
            return 5;
        }
        return 6;
    }
    let jw = jw_from(x, y, 0.80);
    if jw >= 0.92 {
        return 1;
    }
    // Swapped: the same tokens (give or take a typo) written in another order. Only when
    // the orders differ: "Anderson Oliver"/"Anderson Olivia" is a family, not a swap.
    let orders_differ = (a.name == a.name_sorted) != (b.name == b.name_sorted);
    if a.name_sorted == b.name_sorted
        || (orders_differ && jw_from(a.name_sorted, b.name_sorted, 0.92) >= 0.92)
    {
        return 3;
    }
    if jw >= 0.80 {
        return 2;
    }
    if mostly_same_characters(x, y, false) {
        return 5;
    }
    6
}

/// Phone level: exact / one digit substituted or two adjacent swapped / different.
pub fn phone_level(a: &Keys, b: &Keys) -> u8 {
    let (Some(x), Some(y)) = (a.phone, b.phone) else {
        return MISSING;
    };
    if x == y {
        0
    } else if one_substitution_or_swap(x, y) {
        1
    } else {
        2
    }
}

/// `s.rsplit_once('@')`, or (s, "") without an '@': a byte search ('@' is ASCII, so
/// both sides stay whole characters).
fn split_at_last_at(s: &str) -> (&str, &str) {
    match s.bytes().rposition(|c| c == b'@') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    }
}

/// E-mail level: exact / one edit in the local part, or two anywhere in a longer
/// address / same local part at another domain / different.
pub fn email_level(a: &Keys, b: &Keys) -> u8 {
    let (Some(x), Some(y)) = (a.email, b.email) else {
        return MISSING;
    };
    if x == y {
        return 0;
    }
    let (lx, dx) = split_at_last_at(x);
    let (ly, dy) = split_at_last_at(y);
    let short = lx.len().min(ly.len());
    // Lengths more than two apart are more than two edits apart: skip the distance.
    let close = x.len().abs_diff(y.len()) <= 2;
    if close
        && ((dx == dy && short >= 3 && distance_within(lx, ly, 1, true) == 1)
            || (short >= 6 && distance_within(x, y, 2, true) <= 2))
    {
        1
    } else if lx == ly && short >= 4 {
        2
    } else {
        3
    }
}

/// Company level on the key (legal suffixes removed): exact / one edit or JW ≥ .95 /
/// one contains the other or JW ≥ .85 / different.
pub fn company_level(a: &Keys, b: &Keys) -> u8 {
    let (Some(x), Some(y)) = (opt(a.company), opt(b.company)) else {
        return MISSING;
    };
    if x == y {
        return 0;
    }
    let jw = jw_from(x, y, 0.85);
    if jw >= 0.95 {
        return 1;
    }
    // The lengths in characters only when Jaro-Winkler did not settle it.
    let (lx, ly) = (x.chars().count(), y.chars().count());
    if lx.min(ly) >= 4 && lx.abs_diff(ly) <= 1 && distance_within(x, y, 1, false) == 1 {
        return 1;
    }
    if jw >= 0.85 || (lx.min(ly) >= 2 && (x.contains(y) || y.contains(x))) {
        return 2;
    }
    3
}

pub fn city_level(a: &Keys, b: &Keys) -> u8 {
    match (opt(a.city), opt(b.city)) {
        (Some(x), Some(y)) if x == y => 0,
        (Some(_), Some(_)) => 1,
        _ => MISSING,
    }
}

/// The runs of digits in `s` (on the bytes: no byte of a non-ASCII character is a
/// digit, so the runs are the same as on the characters).
fn numbers(s: &str) -> impl Iterator<Item = &[u8]> {
    s.as_bytes()
        .split(|b| !b.is_ascii_digit())
        .filter(|n| !n.is_empty())
}

/// Address level: exact / house numbers equal and edit similarity ≥ .85 / numbers equal
/// and ≥ .6 (or one a prefix of the other) / different.
pub fn address_level(a: &Keys, b: &Keys) -> u8 {
    let (Some(x), Some(y)) = (opt(a.address), opt(b.address)) else {
        return MISSING;
    };
    if x == y {
        return 0;
    }
    if !numbers(x).eq(numbers(y)) {
        return 3;
    }
    if x.starts_with(y) || y.starts_with(x) {
        return 2;
    }
    let (lx, ly) = (x.chars().count(), y.chars().count());
    // Similarity ≥ 0.6 needs lengths within 40 % of each other: skip the distance.
    if lx.abs_diff(ly) as f64 > 0.4 * lx.max(ly) as f64 {
        return 3;
    }
    // Only distances up to 40 % of the length matter (similarity ≥ 0.6).
    let bound = (0.4 * lx.max(ly) as f64).ceil() as usize;
    let d = distance_within(x, y, bound, false);
    if d > bound {
        return 3;
    }
    let sim = 1.0 - d as f64 / lx.max(ly) as f64;
    if sim >= 0.85 {
        1
    } else if sim >= 0.6 {
        2
    } else {
        3
    }
}

/// The comparison vector of a pair: one level per field.
pub fn compare(a: &Record, b: &Record) -> [u8; FIELDS] {
    compare_keys(&a.keys(), &b.keys())
}

/// One field's level for a pair (`compare_keys` of that field alone).
pub fn level(f: Field, a: &Keys, b: &Keys) -> u8 {
    match f {
        Field::Name => name_level(a, b),
        Field::Phone => phone_level(a, b),
        Field::Email => email_level(a, b),
        Field::Company => company_level(a, b),
        Field::City => city_level(a, b),
        Field::Address => address_level(a, b),
    }
}

/// Whether `level(f, a, b)` is 0 (the exact level: both present and equal), without
/// comparing any further.
pub fn exact(f: Field, a: &Keys, b: &Keys) -> bool {
    let both = |x: &str, y: &str| !x.is_empty() && x == y;
    match f {
        Field::Name => both(a.name, b.name),
        Field::Phone => a.phone.is_some() && a.phone == b.phone,
        Field::Email => a.email.is_some() && a.email == b.email,
        Field::Company => both(a.company, b.company),
        Field::City => both(a.city, b.city),
        Field::Address => both(a.address, b.address),
    }
}

/// `compare` on borrowed keys (a `Record`'s or a `Packed` record's).
pub fn compare_keys(a: &Keys, b: &Keys) -> [u8; FIELDS] {
    [
        name_level(a, b),
        phone_level(a, b),
        email_level(a, b),
        company_level(a, b),
        city_level(a, b),
        address_level(a, b),
    ]
}

/// A comparison vector packed in 24 bits (4 per field), for counting patterns.
pub fn pack(g: &[u8; FIELDS]) -> u32 {
    g.iter().fold(0u32, |acc, l| (acc << 4) | u32::from(*l))
}

pub fn unpack(code: u32) -> [u8; FIELDS] {
    let mut g = [0u8; FIELDS];
    for (i, l) in g.iter_mut().enumerate() {
        *l = ((code >> (4 * (FIELDS - 1 - i))) & 15) as u8;
    }
    g
}

pub fn value_hash(s: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// The value a term-frequency field holds, if any.
fn tf_value<'a>(r: &Keys<'a>, f: Field) -> Option<&'a str> {
    match f {
        Field::Name => opt(r.name),
        Field::Phone => r.phone,
        Field::Email => r.email,
        Field::Company => opt(r.company),
        Field::City => opt(r.city),
        Field::Address => None,
    }
}

/// The value frequencies of each term-frequency field (in slot order) over `n` records
/// whose keys `record(i)` gives, one field's value hashes at a time.
pub fn term_frequencies<'a>(n: usize, record: &impl Fn(usize) -> Keys<'a>) -> Vec<TermFrequencies> {
    ALL_FIELDS
        .iter()
        .filter(|f| f.term_frequency_slot().is_some())
        .map(|f| {
            // Room for every record at once (one allocation, not a doubling copy).
            let mut hashes: Vec<u64> = Vec::with_capacity(n);
            hashes.extend((0..n).filter_map(|i| tf_value(&record(i), *f).map(value_hash)));
            TermFrequencies::build(hashes, n as u64)
        })
        .collect()
}

/// How often values occur: counts of the values seen at least twice (a value not listed
/// is taken as seen twice: this pair's two records).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TermFrequencies {
    pub population: u64,
    pub counts: HashMap<u64, u32>,
}

impl TermFrequencies {
    fn build(mut hashes: Vec<u64>, population: u64) -> TermFrequencies {
        hashes.sort_unstable();
        // Sized once (no table left behind by growing it): the values seen twice or more.
        let repeated = hashes
            .chunk_by(|a, b| a == b)
            .filter(|run| run.len() >= 2)
            .count();
        let mut counts = HashMap::with_capacity(repeated);
        let mut i = 0;
        while i < hashes.len() {
            let mut j = i + 1;
            while j < hashes.len() && hashes[j] == hashes[i] {
                j += 1;
            }
            if j - i >= 2 {
                counts.insert(hashes[i], (j - i) as u32);
            }
            i = j;
        }
        TermFrequencies { population, counts }
    }

    /// The chance that a record other than one holding the value holds it too: the
    /// u of an exact agreement on this value.
    pub fn share(&self, hash: u64) -> f64 {
        self.share_of_count(self.count(hash))
    }

    /// How many records hold the value (at least this pair's two).
    pub fn count(&self, hash: u64) -> u32 {
        self.counts.get(&hash).copied().unwrap_or(2).max(2)
    }

    /// `share` of a value held by `n` records.
    pub fn share_of_count(&self, n: u32) -> f64 {
        (n.max(2) - 1) as f64 / self.population.max(2) as f64
    }

    /// Keeps the `k` most common values (for storing the model).
    pub fn truncate(&mut self, k: usize) {
        if self.counts.len() <= k {
            return;
        }
        let mut v: Vec<(u64, u32)> = self.counts.drain().collect();
        v.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(k);
        self.counts = v.into_iter().collect();
    }
}

/// The fitted model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    /// Share of matches among the blocked candidate pairs (the prior).
    pub lambda: f64,
    /// m[field][level] and u[field][level].
    pub m: Vec<Vec<f64>>,
    pub u: Vec<Vec<f64>>,
    pub tf: Vec<TermFrequencies>,
    /// Records the model was fitted on, and candidate pairs EM saw.
    pub population: u64,
    /// Real customers behind it (the rest of `population` is the reference sample).
    #[serde(default)]
    pub real_population: u64,
    pub pairs: u64,
    pub em_iterations: u32,
    /// u of the name's levels among different people who share a phone (a family's
    /// landline, a switchboard): such people are likelier than random ones to share a
    /// (family) name, so beside an agreeing phone the same name counts for less. Only
    /// the exact level uses it: on the dev corpora the partial levels' estimate (a
    /// family's shared surname) cost recall without gaining precision.
    #[serde(default)]
    pub u_name_given_phone: Vec<f64>,
    #[serde(skip)]
    weights: Vec<Vec<f64>>,
}

/// One field's part of a pair's weight.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldWeight {
    pub field: Field,
    pub level: &'static str,
    /// log2 Bayes factor: positive for evidence of the same customer.
    pub weight: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub probability: f64,
    pub prior_weight: f64,
    pub fields: Vec<FieldWeight>,
}

impl Explanation {
    /// "same phone (+17.9); different email (-4.1)".
    pub fn reasons(&self) -> String {
        use std::fmt::Write;
        let mut out = String::with_capacity(24 * self.fields.len());
        for (i, f) in self.fields.iter().enumerate() {
            let sep = if i > 0 { "; " } else { "" };
            // Writing to a String cannot fail.
            let _ = write!(out, "{sep}{} ({:+.1})", f.level, f.weight);
        }
        out
    }
}

const MIN_PROB: f64 = 1e-6;

/// Pairs' worth of the random-pair u that the name's u given a shared phone is shrunk
/// toward (see `name_u_given_phone`).
const DEPENDENCE_PRIOR: f64 = 100.0;

/// How much a second (third …) agreeing place counts; see `field_weights`.
pub const PLACE_REST: f64 = 0.25;

/// The blocks EM trains on (see `expectation_maximisation`). Each must be a block whose
/// non-matches still look like random pairs on the other fields. Not phone alone: a
/// family or a switchboard shares a phone *and* an address, city or company. Not name
/// and city: namesakes at one big company (王伟 at 华为 in 深圳) agree on the company.
const TRAINING_RULES: &[&[Field]] = &[
    &[Field::Email],
    &[Field::Phone, Field::Name],
    &[Field::Name, Field::Address],
];

/// Whether EM reads this pair's comparison vector at all: it agrees exactly on every
/// field of a training rule, or on the phone (`name_u_given_phone`'s block). EM is
/// given only these pairs' patterns (and gets the same fit): every other pair is
/// compared when it is scored, once the model can tell it need not be compared fully.
pub fn trains_em(a: &Keys, b: &Keys) -> bool {
    exact(Field::Phone, a, b)
        || TRAINING_RULES
            .iter()
            .any(|rule| rule.iter().all(|f| exact(*f, a, b)))
}

/// Whether EM reads a pattern (`trains_em` on its levels).
#[cfg(test)]
pub(crate) fn trains_em_pattern(g: &[u8; FIELDS]) -> bool {
    g[Field::Phone as usize] == 0
        || TRAINING_RULES
            .iter()
            .any(|rule| rule.iter().all(|f| g[*f as usize] == 0))
}

/// EM over one block's patterns with u fixed: (λ, m, pairs, iterations); None if empty.
#[allow(clippy::type_complexity)]
fn em_session(
    pats: &[([u8; FIELDS], f64)],
    start: &[Vec<f64>],
    u: &[Vec<f64>],
) -> Option<(f64, Vec<Vec<f64>>, f64, u32)> {
    let total: f64 = pats.iter().map(|(_, k)| k).sum();
    if total < 1.0 {
        return None;
    }
    let mut m: Vec<Vec<f64>> = start.to_vec();
    let mut lambda = 0.5;
    let mut iterations = 0;
    for it in 0..200 {
        let mut msum: Vec<Vec<f64>> = m.iter().map(|l| vec![0.0; l.len()]).collect();
        let mut matched = 0.0;
        for (g, k) in pats {
            let (mut pm, mut pu) = (lambda, 1.0 - lambda);
            for (f, l) in g.iter().enumerate() {
                if *l != MISSING {
                    pm *= m[f][*l as usize];
                    pu *= u[f][*l as usize];
                }
            }
            let p = pm / (pm + pu).max(f64::MIN_POSITIVE);
            matched += p * k;
            for (f, l) in g.iter().enumerate() {
                if *l != MISSING {
                    msum[f][*l as usize] += p * k;
                }
            }
        }
        let next = (matched / total).clamp(MIN_PROB, 1.0 - MIN_PROB);
        let mut change = (next - lambda).abs();
        lambda = next;
        for (f, sums) in msum.iter().enumerate() {
            let s: f64 = sums.iter().sum::<f64>();
            if s <= 0.0 {
                continue;
            }
            for (l, x) in sums.iter().enumerate() {
                let v = (x / s).max(MIN_PROB);
                change = change.max((v - m[f][l]).abs());
                m[f][l] = v;
            }
        }
        iterations = it + 1;
        if change < 1e-7 {
            break;
        }
    }
    // A field no pair of the block has a value for was not estimated here.
    for (f, levels) in m.iter_mut().enumerate() {
        if pats.iter().all(|(g, _)| g[f] == MISSING) {
            levels.clear();
        }
    }
    Some((lambda, m, total, iterations))
}

/// Where EM starts: the best level likely for a match. Forgotten as EM converges.
fn start_m(levels: usize) -> Vec<f64> {
    let mut v: Vec<f64> = (0..levels)
        .map(|l| {
            if l == 0 {
                0.7
            } else {
                0.3 / (levels - 1) as f64
            }
        })
        .collect();
    if let Some(last) = v.last_mut() {
        *last *= 0.3;
    }
    let s: f64 = v.iter().sum();
    v.iter_mut().for_each(|x| *x /= s);
    v
}

impl Model {
    /// Fits u on up to `sample` random pairs and m, λ by EM on the candidate pairs'
    /// comparison patterns (counted by the caller: pattern code → number of pairs).
    pub fn fit(
        records: &[Record],
        patterns: &HashMap<u32, u64>,
        sample: usize,
        seed: u64,
    ) -> Model {
        Model::fit_on(
            records.len(),
            |i| records[i].keys(),
            |_| 0,
            patterns,
            sample,
            seed,
        )
    }

    /// `fit` on `n` records whose keys `record(i)` gives; `warm(batch)` may load a
    /// batch of records into the cache before they are compared (`Packed::warm`).
    pub fn fit_on<'a>(
        n: usize,
        record: impl Fn(usize) -> Keys<'a> + Sync,
        warm: impl Fn(&[u32]) -> u8 + Sync,
        patterns: &HashMap<u32, u64>,
        sample: usize,
        seed: u64,
    ) -> Model {
        let tf = term_frequencies(n, &record);
        let pairs = patterns.values().sum();
        Model::fit_with(n, record, warm, patterns, pairs, sample, seed, tf)
    }

    /// `fit_on` with the records' value frequencies counted beforehand
    /// (`term_frequencies`: the scan counts them before it holds its candidate pairs),
    /// and the number of candidate pairs: `patterns` need only hold the pairs that
    /// `trains_em`.
    #[allow(clippy::too_many_arguments)]
    pub fn fit_with<'a>(
        n: usize,
        record: impl Fn(usize) -> Keys<'a> + Sync,
        warm: impl Fn(&[u32]) -> u8 + Sync,
        patterns: &HashMap<u32, u64>,
        pairs: u64,
        sample: usize,
        seed: u64,
        tf: Vec<TermFrequencies>,
    ) -> Model {
        let record = &record;
        // u from random pairs.
        let mut ucount: Vec<Vec<f64>> = ALL_FIELDS
            .iter()
            .map(|f| vec![0.0; f.levels().len()])
            .collect();
        if n >= 2 {
            let threads = super::matching::threads();
            let per = sample.div_ceil(threads);
            let parts: Vec<Vec<Vec<f64>>> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let mut counts = ucount.clone();
                        let warm = &warm;
                        scope.spawn(move || {
                            let mut rng = super::synthetic::Rng::new(seed.wrapping_add(t as u64));
                            // The random pairs drawn a batch at a time, their records
                            // loaded into the cache together (the same pairs, in order).
                            const BATCH: usize = 8;
                            let mut warmed = 0;
                            let mut left = per;
                            while left > 0 {
                                let take = left.min(BATCH);
                                left -= take;
                                let mut batch = [0u32; 2 * BATCH];
                                for pair in batch.chunks_exact_mut(2).take(take) {
                                    let i = rng.below(n as u64) as usize;
                                    let mut j = rng.below(n as u64 - 1) as usize;
                                    if j >= i {
                                        j += 1;
                                    }
                                    pair[0] = i as u32;
                                    pair[1] = j as u32;
                                }
                                warmed ^= warm(&batch[..2 * take]);
                                for pair in batch.chunks_exact(2).take(take) {
                                    let (i, j) = (pair[0] as usize, pair[1] as usize);
                                    let g = compare_keys(&record(i), &record(j));
                                    for (f, l) in g.iter().enumerate() {
                                        if *l != MISSING {
                                            counts[f][*l as usize] += 1.0;
                                        }
                                    }
                                }
                            }
                            std::hint::black_box(warmed);
                            counts
                        })
                    })
                    .collect();
                handles.into_iter().filter_map(|h| h.join().ok()).collect()
            });
            for part in parts {
                for (f, levels) in part.iter().enumerate() {
                    for (l, c) in levels.iter().enumerate() {
                        ucount[f][l] += c;
                    }
                }
            }
        }
        // Add-half smoothing: a level never seen in the sample is rare, not impossible.
        let u: Vec<Vec<f64>> = ucount
            .iter()
            .map(|c| {
                let total: f64 = c.iter().sum::<f64>() + 0.5 * c.len() as f64;
                c.iter().map(|x| (x + 0.5) / total).collect()
            })
            .collect();
        let mut model = Model {
            lambda: 0.1,
            m: ALL_FIELDS
                .iter()
                .map(|f| start_m(f.levels().len()))
                .collect(),
            u,
            tf,
            population: n as u64,
            real_population: n as u64,
            pairs,
            em_iterations: 0,
            u_name_given_phone: Vec::new(),
            weights: Vec::new(),
        };
        model.expectation_maximisation(patterns);
        model.prepare();
        model
    }

    /// m and the prior, splink-style: one EM session per training rule, each on the
    /// candidate pairs that agree exactly on the rule's fields, estimating m of the
    /// *other* fields only (within such a block the non-matches still look like random
    /// pairs on the other fields, so fixed u holds). Each field's m is the average over
    /// the sessions that estimated it, weighted by their matches. The prior is the
    /// number of matches (a session's matches over the share of matches its rule
    /// catches) among all pairs of records.
    fn expectation_maximisation(&mut self, patterns: &HashMap<u32, u64>) {
        let n = self.population as f64;
        let all_pairs = (n * (n - 1.0) / 2.0).max(1.0);
        let pats: Vec<([u8; FIELDS], f64)> = patterns
            .iter()
            .map(|(c, k)| (unpack(*c), *k as f64))
            .collect();
        let mut sums: Vec<Vec<f64>> = self.m.iter().map(|l| vec![0.0; l.len()]).collect();
        let mut weight: Vec<f64> = vec![0.0; FIELDS];
        let mut sessions: Vec<(Vec<usize>, f64)> = Vec::new();
        for rule in TRAINING_RULES {
            let rule: Vec<usize> = rule.iter().map(|f| *f as usize).collect();
            let block: Vec<([u8; FIELDS], f64)> = pats
                .iter()
                .filter(|(g, _)| rule.iter().all(|f| g[*f] == 0))
                .map(|(g, k)| {
                    let mut g = *g;
                    for f in &rule {
                        g[*f] = MISSING;
                    }
                    (g, *k)
                })
                .collect();
            let Some((lambda, m, total, iterations)) = em_session(&block, &self.m, &self.u) else {
                continue;
            };
            self.em_iterations += iterations;
            let matches = lambda * total;
            if matches < 1.0 {
                continue;
            }
            for f in 0..FIELDS {
                if rule.contains(&f) || m[f].is_empty() {
                    continue;
                }
                for (l, v) in m[f].iter().enumerate() {
                    sums[f][l] += v * matches;
                }
                weight[f] += matches;
            }
            sessions.push((rule, matches));
        }
        for f in 0..FIELDS {
            if weight[f] > 0.0 {
                self.m[f] = sums[f]
                    .iter()
                    .map(|x| (x / weight[f]).max(MIN_PROB))
                    .collect();
            }
        }
        self.u_name_given_phone = self.name_u_given_phone(&pats);
        // Matches overall: each session's count over its rule's recall; the median.
        let mut estimates: Vec<f64> = sessions
            .iter()
            .map(|(rule, matches)| {
                let recall: f64 = rule.iter().map(|f| self.m[*f][0]).product();
                matches / recall.max(0.01)
            })
            .collect();
        estimates.sort_by(|a, b| a.total_cmp(b));
        let total_matches = estimates
            .get(estimates.len() / 2)
            .copied()
            .unwrap_or(1.0)
            .max(1.0);
        self.lambda = (total_matches / all_pairs).clamp(1e-12, 0.5);
    }

    /// u of the name given that the phones agree, by EM over the candidate pairs that
    /// share a phone: m fixed (as fitted), u of every other field free, since in that
    /// block the non-matches are families and colleagues, not random pairs. The counts
    /// are shrunk toward the random-pair u by `DEPENDENCE_PRIOR` pairs, so a block with
    /// few non-matches keeps the independent estimate.
    fn name_u_given_phone(&self, pats: &[([u8; FIELDS], f64)]) -> Vec<f64> {
        let (phone, name) = (Field::Phone as usize, Field::Name as usize);
        let block: Vec<([u8; FIELDS], f64)> = pats
            .iter()
            .filter(|(g, _)| g[phone] == 0 && g[name] != MISSING)
            .map(|(g, k)| {
                let mut g = *g;
                g[phone] = MISSING;
                (g, *k)
            })
            .collect();
        let total: f64 = block.iter().map(|(_, k)| k).sum();
        let mut u = self.u.clone();
        if total < 1.0 {
            return u.swap_remove(name);
        }
        let mut lambda = 0.5;
        for _ in 0..200 {
            let mut usum: Vec<Vec<f64>> = u.iter().map(|l| vec![0.0; l.len()]).collect();
            let mut unmatched = 0.0;
            for (g, k) in &block {
                let (mut pm, mut pu) = (lambda, 1.0 - lambda);
                for (f, l) in g.iter().enumerate() {
                    if *l != MISSING {
                        pm *= self.m[f][*l as usize];
                        pu *= u[f][*l as usize];
                    }
                }
                let q = pu / (pm + pu).max(f64::MIN_POSITIVE);
                unmatched += q * k;
                for (f, l) in g.iter().enumerate() {
                    if *l != MISSING {
                        usum[f][*l as usize] += q * k;
                    }
                }
            }
            let next = (1.0 - unmatched / total).clamp(MIN_PROB, 1.0 - MIN_PROB);
            let mut change = (next - lambda).abs();
            lambda = next;
            for (f, sums) in usum.iter().enumerate() {
                if f == phone {
                    continue;
                }
                let s: f64 = sums.iter().sum();
                for (l, x) in sums.iter().enumerate() {
                    let v = ((x + DEPENDENCE_PRIOR * self.u[f][l]) / (s + DEPENDENCE_PRIOR))
                        .max(MIN_PROB);
                    change = change.max((v - u[f][l]).abs());
                    u[f][l] = v;
                }
            }
            if change < 1e-9 {
                break;
            }
        }
        u.swap_remove(name)
    }

    /// Whether a stored model has this code's levels (an older one is refitted).
    pub fn is_current(&self) -> bool {
        self.u_name_given_phone.len() == Field::Name.level_count()
            && self.m.len() == FIELDS
            && self.u.len() == FIELDS
            && ALL_FIELDS.iter().enumerate().all(|(i, f)| {
                self.m[i].len() == f.level_count() && self.u[i].len() == f.level_count()
            })
    }

    /// Precomputes log2(m/u) per level (after fitting or loading).
    pub fn prepare(&mut self) {
        self.weights = self
            .m
            .iter()
            .zip(&self.u)
            .map(|(m, u)| {
                m.iter()
                    .zip(u)
                    .map(|(m, u)| (m.max(MIN_PROB) / u.max(MIN_PROB)).log2())
                    .collect()
            })
            .collect();
    }

    pub fn prior_weight(&self) -> f64 {
        (self.lambda / (1.0 - self.lambda)).log2()
    }

    /// One field's log2 Bayes factor at a level; exact agreement on a term-frequency
    /// field uses the value's own frequency as u.
    /// `share` is the u of an exact agreement on the value (term-frequency fields only).
    fn field_weight(&self, f: Field, level: u8, share: Option<f64>, phone_agrees: bool) -> f64 {
        if level == MISSING {
            return 0.0;
        }
        let i = f as usize;
        if level == 0 {
            if let Some(mut share) = share {
                // The same name beside the same phone: its share scaled by how much
                // likelier people who share a phone are to share a name (never below
                // 1: without such evidence the fields are taken as independent).
                if f == Field::Name && phone_agrees {
                    if let Some(uc) = self.u_name_given_phone.first() {
                        share *= (uc / self.u[i][0].max(MIN_PROB)).max(1.0);
                    }
                }
                return (self.m[i][0].max(MIN_PROB) / share.max(MIN_PROB)).log2();
            }
        }
        self.weights
            .get(i)
            .and_then(|w| w.get(level as usize))
            .copied()
            .unwrap_or(0.0)
    }

    /// Each field's part of the weight. Places people share (a home or company phone,
    /// an address, a company, a city) are not independent evidence: a family or two
    /// colleagues agree on several at once. So unless the names agree, only the
    /// strongest of their agreements counts in full, the others at `PLACE_REST` (the
    /// model's one structural choice, measured on the dev corpus; see README).
    pub fn field_weights(&self, g: &[u8; FIELDS], a: &Record) -> [f64; FIELDS] {
        self.field_weights_keys(g, &a.keys())
    }

    fn field_weights_keys(&self, g: &[u8; FIELDS], a: &Keys) -> [f64; FIELDS] {
        self.field_weights_by(g, |f| {
            let (slot, v) = (f.term_frequency_slot()?, tf_value(a, f)?);
            Some(self.tf[slot].share(value_hash(v)))
        })
    }

    /// How many records hold each term-frequency value of `a` (0: no value), looked up
    /// once per record rather than hashed again for each of its pairs.
    pub fn tf_counts(&self, a: &Keys) -> [u32; TF_FIELDS] {
        let mut counts = [0; TF_FIELDS];
        for f in ALL_FIELDS {
            if let (Some(slot), Some(v)) = (f.term_frequency_slot(), tf_value(a, f)) {
                counts[slot] = self.tf[slot].count(value_hash(v));
            }
        }
        counts
    }

    /// `weight_of` with `a`'s term-frequency counts from `tf_counts`.
    pub fn weight_with_counts(&self, g: &[u8; FIELDS], counts: &[u32; TF_FIELDS]) -> f64 {
        let w = self.field_weights_by(g, |f| {
            let slot = f.term_frequency_slot()?;
            (counts[slot] > 0).then(|| self.tf[slot].share_of_count(counts[slot]))
        });
        self.prior_weight() + w.iter().sum::<f64>()
    }

    /// `field_weights` given the u of an exact agreement on each field's value of `a`.
    fn field_weights_by(
        &self,
        g: &[u8; FIELDS],
        share: impl Fn(Field) -> Option<f64>,
    ) -> [f64; FIELDS] {
        let mut w = [0.0; FIELDS];
        let phone_agrees = g[Field::Phone as usize] == 0;
        for (i, (f, l)) in ALL_FIELDS.iter().zip(g).enumerate() {
            let s = if *l == 0 { share(*f) } else { None };
            w[i] = self.field_weight(*f, *l, s, phone_agrees);
        }
        // A name that agrees (exactly, nearly, swapped, or in sound) already rules out
        // the family member and the colleague: then the places are evidence each on
        // their own.
        if matches!(g[Field::Name as usize], 0 | 1 | 3 | 7) {
            return w;
        }
        let places = [Field::Phone, Field::Company, Field::City, Field::Address];
        let strongest = places
            .iter()
            .map(|f| *f as usize)
            .filter(|i| w[*i] > 0.0)
            .max_by(|x, y| w[*x].total_cmp(&w[*y]));
        if let Some(top) = strongest {
            for f in places {
                let i = f as usize;
                if i != top && w[i] > 0.0 {
                    w[i] *= PLACE_REST;
                }
            }
        }
        w
    }

    /// log2 odds that the pair is one customer, given its comparison vector.
    pub fn weight_of(&self, g: &[u8; FIELDS], a: &Record) -> f64 {
        self.prior_weight() + self.field_weights(g, a).iter().sum::<f64>()
    }

    /// The evidence against a pair being one customer: the sum of its negative field
    /// weights (0 when nothing disagrees; missing values are not disagreement).
    pub fn contradiction(&self, a: &Record, b: &Record) -> f64 {
        self.contradiction_keys(&a.keys(), &b.keys())
    }

    /// `contradiction` on borrowed keys.
    pub fn contradiction_keys(&self, a: &Keys, b: &Keys) -> f64 {
        self.field_weights_keys(&compare_keys(a, b), a)
            .iter()
            .filter(|w| **w < 0.0)
            .sum()
    }

    pub fn probability(&self, a: &Record, b: &Record) -> f64 {
        probability_of(self.weight_of(&compare(a, b), a))
    }

    pub fn explain(&self, a: &Record, b: &Record) -> Explanation {
        self.explain_keys(&a.keys(), &b.keys())
    }

    /// `explain` on borrowed keys (a report's packed records), comparing once.
    pub fn explain_keys(&self, a: &Keys, b: &Keys) -> Explanation {
        let g = compare_keys(a, b);
        let w = self.field_weights_keys(&g, a);
        let fields: Vec<FieldWeight> = ALL_FIELDS
            .iter()
            .zip(g)
            .zip(w)
            .filter(|((_, l), _)| *l != MISSING)
            .map(|((f, l), w)| FieldWeight {
                field: *f,
                level: f.levels()[l as usize],
                weight: (w * 10.0).round() / 10.0,
            })
            .collect();
        Explanation {
            probability: probability_of(self.prior_weight() + w.iter().sum::<f64>()),
            prior_weight: (self.prior_weight() * 10.0).round() / 10.0,
            fields,
        }
    }

    /// For storing: keeps only the most common values of each frequency table.
    pub fn compact(&mut self, k: usize) {
        for t in &mut self.tf {
            t.truncate(k);
        }
    }
}

pub fn probability_of(weight: f64) -> f64 {
    1.0 / (1.0 + (-weight).exp2())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str, phone: Option<&str>, email: Option<&str>, company: &str) -> Record {
        Record::new(
            1,
            Some(name).filter(|s| !s.is_empty()),
            Some(company).filter(|s| !s.is_empty()),
            phone,
            email,
            Some("杭州"),
            None,
            None,
        )
    }

    #[test]
    fn name_levels() {
        let l = |a: &str, b: &str| {
            name_level(
                &rec(a, None, None, "").keys(),
                &rec(b, None, None, "").keys(),
            )
        };
        assert_eq!(l("张伟", "张伟"), 0);
        assert_eq!(l("Henry Collinson", "Henry Colinson"), 1);
        assert_eq!(l("Caitlin Goode", "Goode Caitlin"), 3);
        assert_eq!(l("Caitlni Goode", "Goode Caitlin"), 3);
        assert_eq!(
            l("Oliver Anderson", "Olivia Anderson"),
            2,
            "a family, not a swap"
        );
        assert_eq!(l("张伟", "张玮"), 7, "the same sound: an IME slip");
        assert_eq!(
            l("张伟", "张明"),
            4,
            "one character off in sound: a sibling too"
        );
        assert_eq!(l("邱军文", "邱君雯"), 7, "two slips, one sound");
        assert_eq!(l("林帅", "琳帅"), 7, "a slip in the family name");
        assert_eq!(l("潘晓斌", "潘彬"), 8, "one dropped, one slipped");
        assert_eq!(l("欧阳萍", "欧扬春平"), 8);
        assert_eq!(l("晓斌", "彬"), 6, "a family name is never dropped");
        assert_eq!(l("卢红", "蒋红"), 5, "the given name shared");
        assert_eq!(
            l("张晓东雪", "张明东霜"),
            5,
            "two slips, more than the family name kept"
        );
        assert_eq!(
            l("张东雪", "张小明"),
            6,
            "a family shares only the family name"
        );
        assert_eq!(l("卢红", "蒋明"), 6);
        assert_eq!(
            l("Charlotte Williams", "Williams Xharlotte"),
            5,
            "swap and typo"
        );
        assert_eq!(l("Nazhang", "Zgabgna"), 5);
        assert_eq!(l("Emily Carter", "Oscar Reed"), 6);
        assert_eq!(l("", "张伟"), MISSING);
        assert_eq!(l("Jonathan Smith", "Jonathon Smyth"), 1);
    }

    #[test]
    fn contact_levels() {
        let p = |a: &str, b: &str| {
            phone_level(
                &rec("a", Some(a), None, "").keys(),
                &rec("a", Some(b), None, "").keys(),
            )
        };
        assert_eq!(p("61404217909", "61404217909"), 0);
        assert_eq!(p("61404217909", "61404213909"), 1);
        assert_eq!(p("61404522895", "61404528295"), 1, "adjacent swap");
        assert_eq!(p("61404522895", "61404582295"), 2, "two apart");
        assert_eq!(
            phone_level(
                &rec("a", None, None, "").keys(),
                &rec("a", Some("1"), None, "").keys()
            ),
            MISSING
        );
        let e = |a: &str, b: &str| {
            email_level(
                &rec("a", None, Some(a), "").keys(),
                &rec("a", None, Some(b), "").keys(),
            )
        };
        assert_eq!(e("zw@qq.com", "zw@qq.com"), 0);
        assert_eq!(e("zhangw@qq.com", "zhangv@qq.com"), 1);
        assert_eq!(e("zhangw@qq.com", "zhangw@163.com"), 2);
        assert_eq!(e("zhangw@qq.com", "lina@qq.com"), 3);
    }

    #[test]
    fn company_city_address_levels() {
        let c = |a: &str, b: &str| {
            company_level(
                &rec("a", None, None, a).keys(),
                &rec("a", None, None, b).keys(),
            )
        };
        assert_eq!(c("杭州云帆科技有限公司", "杭州云帆科技"), 0);
        assert_eq!(c("杭州云帆科技", "杭州云帆料技"), 1);
        assert_eq!(c("杭州云帆科技", "云帆科技"), 2);
        assert_eq!(c("杭州云帆科技", "明远贸易"), 3);
        let mut a = rec("a", None, None, "");
        let mut b = rec("a", None, None, "");
        a.address = "1mcgivern crescentwinchester2602".replace(' ', "");
        b.address = "1mcgiverncrescntwinchester2602".into();
        assert_eq!(address_level(&a.keys(), &b.keys()), 1);
        b.address = "3mcgiverncrescentwinchester2602".into();
        assert_eq!(
            address_level(&a.keys(), &b.keys()),
            3,
            "another house number"
        );
        b.city = "上海".into();
        assert_eq!(city_level(&a.keys(), &b.keys()), 1);
    }

    /// The allocation-free distances agree with strsim's on random strings over a small
    /// alphabet (many near misses, swaps and repeats), Latin and 汉字.
    /// The bound never hides a Jaro-Winkler that reaches the floor.
    #[test]
    fn jw_bound_never_hides_a_reachable_similarity() {
        let mut rng = super::super::synthetic::Rng::new(5);
        let alphabet = b"abcdeeilnorst";
        let word = |rng: &mut super::super::synthetic::Rng| -> String {
            let n = 1 + rng.below(14) as usize;
            (0..n)
                .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize] as char)
                .collect()
        };
        let hanzi: Vec<char> = "云帆科技有限公司杭州李王张伟玮明".chars().collect();
        let han = |rng: &mut super::super::synthetic::Rng| -> String {
            let n = 1 + rng.below(8) as usize;
            (0..n)
                .map(|_| hanzi[rng.below(hanzi.len() as u64) as usize])
                .collect()
        };
        for round in 0..50_000 {
            // Every fourth pair in 汉字 (the bound by fingerprint), some mixed.
            if round % 4 == 0 {
                let a = han(&mut rng);
                let b = if round % 8 == 0 {
                    han(&mut rng)
                } else {
                    format!("{}{}", &a, word(&mut rng))
                };
                for floor in [0.80, 0.85, 0.92] {
                    let full = jw(&a, &b);
                    let bounded = jw_from(&a, &b, floor);
                    assert!(
                        bounded == full || (bounded == 0.0 && full < floor),
                        "{a} {b} {floor}: {bounded} vs {full}"
                    );
                }
                assert!(shared_at_most(&a, &b) >= shared_chars(&a, &b), "{a} {b}");
                continue;
            }
            let a = word(&mut rng);
            let b = if rng.below(2) == 0 {
                word(&mut rng)
            } else {
                // A near copy: one character replaced.
                let mut v: Vec<char> = a.chars().collect();
                let i = rng.below(v.len() as u64) as usize;
                v[i] = alphabet[rng.below(alphabet.len() as u64) as usize] as char;
                v.into_iter().collect()
            };
            for floor in [0.80, 0.85, 0.92] {
                let full = jw(&a, &b);
                let bounded = jw_from(&a, &b, floor);
                assert!(
                    bounded == full || (bounded == 0.0 && full < floor),
                    "{a} {b} {floor}: {bounded} vs {full}"
                );
            }
        }
    }

    /// The bit-parallel Jaro-Winkler on bytes is strsim's, on short and long strings
    /// (up to the 64 bytes of a mask) of few and of many letters.
    #[test]
    fn bit_parallel_jaro_winkler_equals_strsim() {
        let mut rng = super::super::synthetic::Rng::new(29);
        for round in 0..40_000u64 {
            let letters = [2, 4, 26][(round % 3) as usize];
            let max = [8, 20, 65][(round / 3 % 3) as usize];
            let mut word = |max: u64| -> String {
                (0..rng.below(max))
                    .map(|_| char::from(b'a' + rng.below(letters) as u8))
                    .collect()
            };
            let a = word(max);
            let mut b = word(max);
            if round % 4 == 0 {
                // A near copy: two letters swapped and one added.
                b = a.clone();
                if b.len() >= 2 {
                    let mut v: Vec<char> = b.chars().collect();
                    v.swap(0, 1);
                    b = v.into_iter().collect();
                }
                b.push('z');
            }
            let want = jaro_winkler(&a, &b);
            assert_eq!(jw(&a, &b), want, "{a} {b}");
            if a.len() <= SHORT && b.len() <= SHORT {
                assert_eq!(jw_bytes(a.as_bytes(), b.as_bytes()), want, "{a} {b}");
            }
        }
    }

    #[test]
    fn fast_distances_equal_strsim() {
        let mut rng = super::super::synthetic::Rng::new(17);
        let alphabets: [&[char]; 2] = [&['a', 'b', 'c', 'd'], &['王', '伟', '玮', '李']];
        for round in 0..20_000 {
            let abc = alphabets[round % 2];
            let mut word = |max: u64| -> String {
                (0..rng.below(max))
                    .map(|_| abc[rng.below(abc.len() as u64) as usize])
                    .collect()
            };
            let a = word(12);
            let mut b = word(12);
            if round % 3 == 0 {
                // A near copy: a few edits of a.
                b = a.clone();
                if !b.is_empty() {
                    b.push('a');
                }
            }
            assert_eq!(jw(&a, &b), jaro_winkler(&a, &b), "{a} {b}");
            for k in 0..4 {
                let osa = osa_distance(&a, &b).min(k + 1);
                let lev = levenshtein(&a, &b).min(k + 1);
                assert_eq!(distance_within(&a, &b, k, true), osa, "osa {a} {b} {k}");
                assert_eq!(distance_within(&a, &b, k, false), lev, "lev {a} {b} {k}");
            }
            // The characters shared in any order: a multiset intersection.
            let mut left: Vec<char> = b.chars().collect();
            let shared = a
                .chars()
                .filter(|c| match left.iter().position(|x| x == c) {
                    Some(at) => {
                        left.remove(at);
                        true
                    }
                    None => false,
                })
                .count();
            assert_eq!(shared_chars(&a, &b), shared, "{a} {b}");
            let same_len = a.chars().count() == b.chars().count();
            assert_eq!(
                one_substitution_or_swap(&a, &b),
                same_len && osa_distance(&a, &b) == 1,
                "{a} {b}"
            );
        }
        let long = "x".repeat(100);
        assert_eq!(distance_within(&long, "xy", 3, false), 4);
        for e in ["a@b.com", "a@b@c.org", "no-at", "@x", "y@", "王@伟.cn", ""] {
            assert_eq!(split_at_last_at(e), e.rsplit_once('@').unwrap_or((e, "")));
        }
        assert_eq!(jw(&long, &long), 1.0);
        // Past `SHORT` characters of another script nothing is counted as shared; a
        // string of exactly `SHORT` is still compared whole.
        let (wide, at_most) = ("王".repeat(SHORT + 1), "王".repeat(SHORT));
        // ASCII of any length is counted whole, past 255 of one byte too.
        let (many, some) = ("a".repeat(300), "a".repeat(280) + "b");
        assert_eq!(shared_chars(&many, &some), 280);
        assert_eq!(shared_chars(&some, &many), 280);
        assert_eq!(shared_chars(&wide, "王"), 0);
        assert_eq!(shared_chars(&at_most, &at_most), SHORT);
        assert_eq!(distance_within(&at_most, "", 100, false), SHORT);
        assert_eq!(distance_within(&at_most, "王", 100, true), SHORT - 1);
    }

    #[test]
    fn a_model_with_other_levels_is_stale() {
        let records = vec![rec("张伟", Some("8613800138000"), None, "云帆")];
        let mut m = Model::fit(&records, &HashMap::new(), 100, 1);
        assert!(m.is_current());
        // A model stored before the name got its "mostly the same characters" level.
        m.m[Field::Name as usize].pop();
        m.u[Field::Name as usize].pop();
        assert!(!m.is_current());
    }

    #[test]
    fn pack_round_trips() {
        let g = [0, 8, 2, 3, MISSING, 5];
        assert_eq!(unpack(pack(&g)), g);
    }

    #[test]
    fn term_frequencies_count_repeated_values_only() {
        let h = |s: &str| value_hash(s);
        let tf = TermFrequencies::build(vec![h("王伟"), h("王伟"), h("王伟"), h("李娜")], 100);
        assert_eq!(tf.counts.len(), 1);
        // Two of a hundred other records hold 王伟 besides this one.
        assert!((tf.share(h("王伟")) - 0.02).abs() < 1e-12);
        assert!(
            (tf.share(h("李娜")) - 0.01).abs() < 1e-12,
            "unseen twice = this pair: one other holder"
        );
    }

    /// EM recovers m from unlabelled patterns: a mixture of matches (agreeing) and
    /// non-matches (u-distributed) gives back the matches' levels and their number.
    #[test]
    fn em_learns_m_and_lambda_from_unlabelled_pairs() {
        let mut records = Vec::new();
        for i in 0..400 {
            records.push(Record::new(
                i,
                Some(&format!("person{i}x")),
                Some(&format!("company{}", i % 37)),
                Some(&format!("86138{i:08}")),
                Some(&format!("p{i}@mail.com")),
                Some(["杭州", "上海", "北京"][i as usize % 3]),
                None,
                None,
            ));
        }
        let mut patterns: HashMap<u32, u64> = HashMap::new();
        // 300 true matches: phone agrees, name and e-mail each 80 % of the time
        // (independently); 700 non-matches: random pairs.
        for (name, email, k) in [(0, 0, 192), (0, 3, 48), (1, 0, 48), (1, 3, 12)] {
            *patterns
                .entry(pack(&[name, 0, email, 0, 0, MISSING]))
                .or_default() += k;
        }
        let mut rng = super::super::synthetic::Rng::new(3);
        for _ in 0..700 {
            let i = rng.below(400) as usize;
            let j = (i + 1 + rng.below(398) as usize) % 400;
            *patterns
                .entry(pack(&compare(&records[i], &records[j])))
                .or_default() += 1;
        }
        let m = Model::fit(&records, &patterns, 20_000, 1);
        // 300 matches among 400·399/2 pairs of records.
        let want = 300.0 / 79_800.0;
        assert!((m.lambda - want).abs() < want * 0.05, "{}", m.lambda);
        assert!(
            (m.m[Field::Phone as usize][0] - 1.0).abs() < 0.02,
            "{:?}",
            m.m
        );
        assert!(
            (m.m[Field::Name as usize][0] - 0.8).abs() < 0.05,
            "{:?}",
            m.m
        );
        assert!(m.u[Field::Phone as usize][0] < 0.001);
        // Agreeing on everything is a match; a different name and phone is not.
        let a = &records[5];
        let mut b = a.clone();
        assert!(m.probability(a, &b) > 0.999);
        b.name = "someoneelse".into();
        b.name_sorted = b.name.clone();
        b.phone = Some("8613999999999".into());
        b.email = Some("other@mail.com".into());
        assert!(m.probability(a, &b) < 0.01);
        let why = m.explain(a, &records[5]);
        assert_eq!(why.fields[0].level, "same name");
        assert!(why.fields.iter().all(|f| f.weight > 0.0), "{why:?}");
    }

    /// Different people who share a phone (namesakes at one switchboard) agree on the
    /// name far more often than random pairs: the model learns that from the blocked
    /// pairs, so beside an agreeing phone an agreeing name counts for less — and for
    /// as much as before where people sharing a phone do not share names.
    #[test]
    fn a_shared_phone_weakens_an_agreeing_name_only_where_the_data_say_so() {
        let records: Vec<Record> = (0..2000)
            .map(|i| {
                Record::new(
                    i,
                    Some(&format!("person{i}x")),
                    None,
                    Some(&format!("86138{i:08}")),
                    Some(&format!("p{i}@mail.com")),
                    None,
                    Some(&format!("{i} long road")),
                    None,
                )
            })
            .collect();
        let fit = |namesakes: u64| {
            let mut patterns: HashMap<u32, u64> = HashMap::new();
            let mut add = |g: [u8; FIELDS], k: u64| *patterns.entry(pack(&g)).or_default() += k;
            let (m_, d) = (MISSING, 3);
            // The same person: phone agrees, name mostly, e-mail and address 90 % each.
            add([0, 0, 0, m_, m_, 0], 356);
            add([0, 0, d, m_, m_, 0], 40);
            add([0, 0, 0, m_, m_, d], 40);
            add([0, 0, d, m_, m_, d], 4);
            add([1, 0, 0, m_, m_, 0], 60);
            // Different people on one phone: other names, or the same (namesakes).
            add([6, 0, d, m_, m_, d], 2000);
            add([0, 0, d, m_, m_, d], namesakes);
            Model::fit(&records, &patterns, 50_000, 1)
        };
        let a = &records[5];
        let mut b = a.clone();
        b.email = None;
        let name_weight = |m: &Model| m.explain(a, &b).fields[0].weight;
        let independent = |m: &Model| {
            let mut m = m.clone();
            m.u_name_given_phone = m.u[Field::Name as usize].clone();
            m.prepare();
            m
        };
        let shared = fit(600);
        assert!(
            shared.u_name_given_phone[0] > 0.1,
            "{:?}",
            shared.u_name_given_phone
        );
        assert!(
            name_weight(&shared) < name_weight(&independent(&shared)) - 3.0,
            "{} vs {}",
            name_weight(&shared),
            name_weight(&independent(&shared))
        );
        assert!(shared.probability(a, &b) < independent(&shared).probability(a, &b));
        // Without namesakes on shared phones the name keeps (nearly) its full weight.
        let apart = fit(0);
        assert!(
            (name_weight(&apart) - name_weight(&independent(&apart))).abs() < 1.0,
            "{} vs {}",
            name_weight(&apart),
            name_weight(&independent(&apart))
        );
        // A stored model without the estimate is stale (refitted, not half-used).
        let mut old = apart.clone();
        old.u_name_given_phone.clear();
        assert!(!old.is_current());
    }

    #[test]
    fn common_values_weigh_less_than_rare_ones() {
        let mut records: Vec<Record> = (0..1000)
            .map(|i| rec(&format!("name{i}"), None, None, ""))
            .collect();
        for r in records.iter_mut().take(50) {
            *r = rec("王伟", None, None, "");
        }
        let mut patterns = HashMap::new();
        patterns.insert(pack(&[0, MISSING, MISSING, MISSING, 0, MISSING]), 10);
        patterns.insert(pack(&[6, MISSING, MISSING, MISSING, 0, MISSING]), 90);
        let m = Model::fit(&records, &patterns, 10_000, 1);
        let common = m.explain(&records[0], &records[1]);
        let rare = m.explain(&records[100], &records[100]);
        assert!(
            rare.fields[0].weight > common.fields[0].weight + 3.0,
            "{common:?} {rare:?}"
        );
        // Missing is neutral: no term at all.
        let none = m.explain(&records[0], &rec("", None, None, ""));
        assert!(none.fields.iter().all(|f| f.field != Field::Name));
    }
}
