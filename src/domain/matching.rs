//! Finding the same customer under different spellings. Pure: records in, clusters out.
//!
//! 1. Blocking (`blocking.rs`): a union of rules, so a typo in any one field still
//!    brings a pair together; near-linear in customers.
//! 2. The Fellegi–Sunter model (`linkage.rs`) is fitted on these very records: u from
//!    random pairs, m and the prior by EM over the candidate pairs. A small database is
//!    topped up with a generated reference population (never reported) so that u and
//!    the value frequencies mean something.
//! 3. Every candidate pair gets a match probability; pairs at or above the threshold
//!    are joined into clusters, but two groups join only when no member of one
//!    contradicts a member of the other (no chains A~B~C where A and C are plainly
//!    different people).
use std::collections::HashMap;

use super::blocking::{blocks_of, candidate_pairs_of, Pairs};
use super::linkage::{
    compare_keys, level, pack, probability_of, term_frequencies, trains_em, Field, Keys, Model,
    ALL_FIELDS, FIELDS, MISSING, TF_FIELDS,
};

/// Pairs whose match probability is at least this are duplicates (merged, or skipped by
/// import).
pub const DEFAULT_THRESHOLD: f64 = 0.99;
/// `pool add` warns from this probability on: a warning costs a glance, a missed
/// duplicate a double call.
pub const WARN_THRESHOLD: f64 = 0.9;
/// Inside a cluster, no pair may disagree by more than this many bits of evidence
/// (e.g. a different phone *and* a different e-mail). Missing values are no
/// disagreement: a record with only a phone and one with only an e-mail can both belong.
pub const CONTRADICTION_BITS: f64 = 8.0;
/// Clusters never grow beyond this (a bigger one is a chain, not a customer).
pub const MAX_CLUSTER: usize = 24;
/// The size of the generated reference population every fit includes.
pub const MIN_POPULATION: usize = 3_000;
/// Random pairs for u.
pub const U_SAMPLE: usize = 400_000;

/// One customer as the matcher sees it: normalised keys only.
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub id: i64,
    /// name_key (NFKC, lower-case, no spaces or punctuation)
    pub name: String,
    /// name tokens sorted (so "Carter Emily" = "Emily Carter"), joined without spaces
    pub name_sorted: String,
    /// a Chinese name's sound: toneless pinyin per 汉字, space-separated ("" if none)
    pub name_sound: String,
    /// company_key (legal suffixes removed)
    pub company: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub city: String,
    /// name_key of the address
    pub address: String,
    pub owner: Option<String>,
}

impl Record {
    /// Builds the keys from cleaned values (as stored).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: i64,
        name: Option<&str>,
        company: Option<&str>,
        phone_key: Option<&str>,
        email_key: Option<&str>,
        city: Option<&str>,
        address: Option<&str>,
        owner: Option<String>,
    ) -> Record {
        use super::normalize::{company_key, name_key};
        let name_k = name.map(name_key).unwrap_or_default();
        let mut tokens: Vec<String> = name
            .unwrap_or("")
            .split(|c: char| c.is_whitespace() || c == ',' || c == '.')
            .map(name_key)
            .filter(|t| !t.is_empty())
            .collect();
        tokens.sort();
        Record {
            id,
            name_sorted: tokens.concat(),
            name_sound: super::linkage::sound_of(&name_k),
            name: name_k,
            company: company.map(company_key).unwrap_or_default(),
            phone: phone_key.map(String::from),
            email: email_key.map(String::from),
            city: city.map(name_key).unwrap_or_default(),
            address: address.map(name_key).unwrap_or_default(),
            owner,
        }
    }

    /// Builds a record from keys already computed (as `validate` makes and the database
    /// stores them): the import's hot path normalises nothing twice.
    #[allow(clippy::too_many_arguments)]
    pub fn from_keys(
        id: i64,
        name: Option<&str>,
        name_key: Option<&str>,
        company_key: Option<&str>,
        phone_key: Option<&str>,
        email_key: Option<&str>,
        city: Option<&str>,
        address: Option<&str>,
    ) -> Record {
        use super::normalize::name_key as key;
        let name_k = name_key.unwrap_or_default().to_string();
        let one_token =
            name.is_none_or(|n| !n.chars().any(|c| c.is_whitespace() || c == ',' || c == '.'));
        let name_sorted = if one_token {
            name_k.clone()
        } else {
            let mut tokens: Vec<String> = name
                .unwrap_or("")
                .split(|c: char| c.is_whitespace() || c == ',' || c == '.')
                .map(key)
                .filter(|t| !t.is_empty())
                .collect();
            tokens.sort();
            tokens.concat()
        };
        Record {
            id,
            name_sound: super::linkage::sound_of(&name_k),
            name: name_k,
            name_sorted,
            company: company_key.unwrap_or_default().to_string(),
            phone: phone_key.map(String::from),
            email: email_key.map(String::from),
            city: city.map(key).unwrap_or_default(),
            address: address.map(key).unwrap_or_default(),
            owner: None,
        }
    }

    /// The keys the comparisons read, borrowed.
    pub fn keys(&self) -> Keys<'_> {
        Keys {
            name: &self.name,
            name_sorted: &self.name_sorted,
            name_sound: &self.name_sound,
            company: &self.company,
            phone: self.phone.as_deref(),
            email: self.email.as_deref(),
            city: &self.city,
            address: &self.address,
        }
    }

    /// The matcher's view of a validated customer (a new one, or generated data).
    pub fn from_fields(
        id: i64,
        f: &super::customer::CustomerFields,
        owner: Option<String>,
    ) -> Record {
        Record::new(
            id,
            f.name.as_deref(),
            f.company.as_deref(),
            f.keys.phone.as_deref(),
            f.keys.email.as_deref(),
            f.city.as_deref(),
            f.address.as_deref(),
            owner,
        )
    }
}

/// Every record's match keys in one buffer, each record's side by side: a comparison
/// touches a record's keys in a cache line or two instead of eight scattered heap
/// strings (the scan's candidate pairs visit records in no useful order). Each record
/// is a header (each key's length, and which contacts are present) followed by its
/// keys, so a record's header and keys share cache lines (one array, not two).
/// The buffer is a list of chunks of `CHUNK` bytes (a record in one chunk), so it
/// grows without copying itself into a twice-as-big allocation.
#[derive(Default)]
pub struct Packed {
    chunks: Vec<String>,
    /// Each record's chunk (high 32 bits) and offset in it.
    starts: Vec<u64>,
}

const CHUNK: usize = 1 << 20;
/// Records whose headers `Packed::warm` loads at once.
pub const WARM: usize = 16;

/// A record's header: one byte of flags (1: has a phone, 2: has an e-mail, 4: the sorted
/// name is the name, stored once, 8: long), then the lengths of name, name_sorted,
/// name_sound, company, phone, email, city and address: one byte each when all are
/// below 128 (nearly every record: a fixed header read without a loop), else (long)
/// each in base-64 digits, lowest first, a digit of 64 + d meaning "d, and more digits
/// follow". Every header byte is ASCII, so the buffer stays a `str` and reading it
/// validates nothing.
const KEYS: usize = 8;
const SORTED_IS_NAME: u8 = 4;
const LONG: u8 = 8;

impl Packed {
    /// Appends one record's keys (the scan packs records as it reads them, so no
    /// record's strings outlive its row).
    pub fn push_record(&mut self, r: &Record) {
        self.push_keys(&r.keys());
    }

    /// Keeps the first `n` records.
    fn truncate(&mut self, n: usize) {
        if n < self.starts.len() {
            let (chunk, at) = ((self.starts[n] >> 32) as usize, self.starts[n] as u32);
            self.chunks.truncate(chunk + 1);
            if let Some(c) = self.chunks.last_mut() {
                c.truncate(at as usize);
            }
            self.starts.truncate(n);
        }
    }

    /// The records numbered `keep` (ascending, each once) as a packed list of their
    /// own, in that order. This list is let go of a chunk at a time as they are copied,
    /// so the copy never sits beside the whole list.
    pub fn take(mut self, keep: &[u32]) -> Packed {
        let mut out = Packed::default();
        for &i in keep {
            let chunk = (self.starts[i as usize] >> 32) as usize;
            for done in &mut self.chunks[..chunk] {
                if done.capacity() > 0 {
                    *done = String::new();
                }
            }
            out.push_keys(&self.get(i as usize));
        }
        out
    }

    /// Record `i` again, as a `Record` with `id` and `owner` (for a report's clusters).
    pub fn record(&self, i: usize, id: i64, owner: Option<String>) -> Record {
        let k = self.get(i);
        Record {
            id,
            name: k.name.to_string(),
            name_sorted: k.name_sorted.to_string(),
            name_sound: k.name_sound.to_string(),
            company: k.company.to_string(),
            phone: k.phone.map(String::from),
            email: k.email.map(String::from),
            city: k.city.to_string(),
            address: k.address.to_string(),
            owner,
        }
    }

    pub fn new(records: &[Record]) -> Packed {
        let mut p = Packed {
            chunks: Vec::new(),
            starts: Vec::with_capacity(records.len()),
        };
        for r in records {
            p.push_keys(&r.keys());
        }
        p
    }

    /// Appends one record's keys.
    pub fn push_keys(&mut self, k: &Keys) {
        let same = k.name_sorted == k.name;
        let parts = [
            k.name,
            if same { "" } else { k.name_sorted },
            k.name_sound,
            k.company,
            k.phone.unwrap_or(""),
            k.email.unwrap_or(""),
            k.city,
            k.address,
        ];
        let long = parts.iter().any(|p| p.len() >= 128);
        let flags = u8::from(k.phone.is_some())
            | (u8::from(k.email.is_some()) << 1)
            | if same { SORTED_IS_NAME } else { 0 }
            | if long { LONG } else { 0 };
        let mut header = [0u8; 1 + KEYS * 11];
        header[0] = flags;
        let mut at = 1;
        for part in &parts {
            let mut len = part.len();
            if !long {
                header[at] = len as u8;
                at += 1;
                continue;
            }
            loop {
                let digit = (len & 63) as u8;
                len >>= 6;
                header[at] = if len > 0 { 64 | digit } else { digit };
                at += 1;
                if len == 0 {
                    break;
                }
            }
        }
        let size = at + parts.iter().map(|p| p.len()).sum::<usize>();
        if self
            .chunks
            .last()
            .is_none_or(|c| !c.is_empty() && c.len() + size > CHUNK)
        {
            self.chunks.push(String::with_capacity(CHUNK.max(size)));
        }
        let chunk = self.chunks.len() - 1;
        let text = &mut self.chunks[chunk];
        // A chunk's records start within its first CHUNK bytes (a longer record starts
        // a chunk of its own), so the offset fits 32 bits.
        self.starts.push(((chunk as u64) << 32) | text.len() as u64);
        text.push_str(std::str::from_utf8(&header[..at]).unwrap_or_default());
        for part in parts {
            text.push_str(part);
        }
    }

    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Reads the first header byte of each of these records, all of them before any is
    /// used: the cache misses of a batch of random records overlap instead of each
    /// stalling a comparison in turn (about a quarter of the scan's time otherwise).
    /// The result only keeps the reads from being optimised away.
    pub fn warm(&self, records: &[u32]) -> u8 {
        let mut at = [0u64; WARM];
        for (a, &i) in at.iter_mut().zip(records) {
            *a = self.starts.get(i as usize).copied().unwrap_or_default();
        }
        let mut x = 0;
        for &s in &at[..records.len().min(WARM)] {
            let text = self.chunks.get((s >> 32) as usize).map(|c| c.as_bytes());
            x ^= text
                .and_then(|t| t.get(s as u32 as usize))
                .copied()
                .unwrap_or(0);
        }
        x
    }

    /// Record `i`'s keys.
    pub fn get(&self, i: usize) -> Keys<'_> {
        let start = self.starts[i];
        let text = &self.chunks[(start >> 32) as usize];
        let bytes = text.as_bytes();
        let mut at = start as u32 as usize;
        let flags = bytes[at];
        at += 1;
        let mut lens = [0usize; KEYS];
        if flags & LONG == 0 {
            for (len, b) in lens.iter_mut().zip(&bytes[at..at + KEYS]) {
                *len = usize::from(*b);
            }
            at += KEYS;
        } else {
            for len in &mut lens {
                let mut shift = 0;
                loop {
                    let digit = bytes[at];
                    at += 1;
                    *len |= usize::from(digit & 63) << shift;
                    shift += 6;
                    if digit < 64 {
                        break;
                    }
                }
            }
        }
        let mut parts = [""; KEYS];
        for (part, len) in parts.iter_mut().zip(lens) {
            *part = text.get(at..at + len).unwrap_or_default();
            at += len;
        }
        Keys {
            name: parts[0],
            name_sorted: if flags & SORTED_IS_NAME != 0 {
                parts[0]
            } else {
                parts[1]
            },
            name_sound: parts[2],
            company: parts[3],
            phone: (flags & 1 != 0).then_some(parts[4]),
            email: (flags & 2 != 0).then_some(parts[5]),
            city: parts[6],
            address: parts[7],
        }
    }
}

/// One pair that joined a cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub a: usize,
    pub b: usize,
    pub probability: f64,
}

#[derive(Debug, Clone)]
pub struct Cluster {
    /// Indexes into the records, oldest id first.
    pub members: Vec<usize>,
    /// The weakest link's probability.
    pub score: f64,
    /// The pairs that joined it, strongest first.
    pub links: Vec<Link>,
}

#[derive(Debug)]
pub struct Found {
    pub candidate_pairs: usize,
    pub clusters: Vec<Cluster>,
    pub model: Model,
}

/// A generated reference population of `n` customers (ids below zero), for fitting the
/// model when the database is still small: the evaluation corpus's generator with its
/// own seed (neither the dev nor the held-out corpus).
pub fn reference_population(n: usize) -> Vec<Record> {
    reference_records(n).collect()
}

/// `reference_population`, one record at a time (the scan packs each as it is made).
fn reference_records(n: usize) -> impl Iterator<Item = Record> {
    let profile = super::corpus::Profile {
        seed: 0x005e_ed0f_9001,
        ..super::corpus::DEV
    };
    corpus_records(profile, n, |i| -(i as i64) - 1)
}

/// The first `n` records of a generated corpus that pass validation, as the matcher sees
/// them, record `i`'s id `id(i)`.
fn corpus_records(
    profile: super::corpus::Profile,
    n: usize,
    id: impl Fn(usize) -> i64,
) -> impl Iterator<Item = Record> {
    super::corpus::generate(profile, n as u64)
        .enumerate()
        .filter_map(move |(i, d)| {
            let input = super::customer::CustomerInput {
                name: d.name,
                company: d.company,
                phone: d.phone,
                email: d.email,
                city: d.city,
                address: d.address,
                ..Default::default()
            };
            let f = super::customer::validate(&input, false).ok()?;
            Some(Record::from_fields(id(i), &f, None))
        })
}

/// The records to fit on: the real ones and the reference population. The reference is a
/// weak prior: a database with few or no duplicates of its own still gets sensible m
/// and u; a big one outweighs it (3,000 records next to a million).
fn population(records: &[Record]) -> Vec<Record> {
    let mut all = records.to_vec();
    all.extend(reference_population(MIN_POPULATION));
    all
}

/// Worker threads for the scan: one a core, at most 8.
pub(crate) fn threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8)
}

/// A comparison vector in 16 bits: each field's level (or "missing", one past its
/// levels) as a digit of a mixed-radix number (10·4·5·5·3·5 = 15,000 codes), half the
/// size of `pack`'s 24 bits in a word, for the one code a candidate pair keeps.
fn narrow(g: &[u8; FIELDS]) -> u16 {
    g.iter().zip(ALL_FIELDS).fold(0u16, |acc, (l, f)| {
        let levels = f.level_count() as u16;
        let digit = if *l == MISSING { levels } else { u16::from(*l) };
        acc * (levels + 1) + digit
    })
}

fn widen(mut code: u16) -> [u8; FIELDS] {
    let mut g = [0u8; FIELDS];
    for (l, f) in g.iter_mut().zip(ALL_FIELDS).rev() {
        let levels = f.level_count() as u16;
        let digit = code % (levels + 1);
        code /= levels + 1;
        *l = if digit == levels {
            MISSING
        } else {
            digit as u8
        };
    }
    g
}

/// The comparison vector of every pair, on every core, each thread writing its share
/// of the one result (no per-thread copies to join).
fn patterns_of(records: &Packed, pairs: &Pairs) -> Vec<u16> {
    let chunk = pairs.len().div_ceil(threads()).max(1);
    let mut codes = vec![0u16; pairs.len()];
    std::thread::scope(|scope| {
        for (n, part) in codes.chunks_mut(chunk).enumerate() {
            scope.spawn(move || {
                let from = n * chunk;
                codes_into(records, pairs.range(from, from + chunk), part);
            });
        }
    });
    codes
}

/// The comparison vectors of `pairs` into `out` (as many).
fn codes_into(records: &Packed, pairs: impl Iterator<Item = (u32, u32)>, out: &mut [u16]) {
    let mut slots = out.iter_mut();
    each_pair_keys(records, pairs.take(slots.len()), |_, ka, _, kb| {
        if let Some(slot) = slots.next() {
            *slot = narrow(&compare_keys(ka, kb));
        }
    });
}

/// Calls `f(a, a's keys, b, b's keys)` for each pair. The pairs come sorted by their
/// first record: its keys are read once for all its pairs, and each batch of `WARM`
/// second records is loaded into the cache together.
fn each_pair_keys<'r>(
    records: &'r Packed,
    pairs: impl IntoIterator<Item = (u32, u32)>,
    mut f: impl FnMut(u32, &Keys<'r>, u32, &Keys<'r>),
) {
    // The current first record (none read yet: no record has index u32::MAX).
    let (mut first, mut ka) = (u32::MAX, Keys::default());
    let mut pairs = pairs.into_iter();
    let mut warmed = 0;
    loop {
        let mut batch = [(0u32, 0u32); WARM];
        let mut len = 0;
        for (x, p) in batch.iter_mut().zip(&mut pairs) {
            *x = p;
            len += 1;
        }
        if len == 0 {
            break;
        }
        let seconds = batch.map(|(_, b)| b);
        warmed ^= records.warm(&seconds[..len]);
        for &(a, b) in &batch[..len] {
            if a != first {
                (first, ka) = (a, records.get(a as usize));
            }
            f(a, &ka, b, &records.get(b as usize));
        }
    }
    std::hint::black_box(warmed);
}

/// The order scoring compares a pair's fields in: the cheap and telling first, the
/// name (the dearest: sounds, Jaro-Winkler, edits) last.
const SCORING_ORDER: [Field; FIELDS] = [
    Field::Phone,
    Field::City,
    Field::Address,
    Field::Email,
    Field::Company,
    Field::Name,
];

/// Which comparison vectors with only some fields compared can still end in a
/// reachable one (`reachable_codes`), so that scoring stops comparing a pair at the
/// first field that rules it out. A state has a digit a field: its level,
/// `level_count` for missing, one more for not compared yet.
struct Possible {
    table: Vec<bool>,
    /// Each field's place value in a state.
    place: [usize; FIELDS],
    /// The state with no field compared.
    none: usize,
}

impl Possible {
    fn new(reachable: &[bool]) -> Possible {
        let radix = ALL_FIELDS.map(|f| f.level_count() + 2);
        let mut place = [0; FIELDS];
        let mut size = 1;
        for i in (0..FIELDS).rev() {
            place[i] = size;
            size *= radix[i];
        }
        let not_yet = |i: usize| place[i] * (radix[i] - 1);
        let mut table = vec![false; size];
        let codes: usize = ALL_FIELDS.iter().map(|f| f.level_count() + 1).product();
        for code in (0..codes).filter(|c| reachable[*c]) {
            let g = widen(code as u16);
            let at: [usize; FIELDS] = std::array::from_fn(|i| {
                let digit = if g[i] == MISSING {
                    radix[i] - 2
                } else {
                    usize::from(g[i])
                };
                place[i] * digit
            });
            // This code with any set of its fields not compared yet.
            for not_compared in 0..1usize << FIELDS {
                let state: usize = (0..FIELDS)
                    .map(|i| {
                        if not_compared >> i & 1 == 1 {
                            not_yet(i)
                        } else {
                            at[i]
                        }
                    })
                    .sum();
                table[state] = true;
            }
        }
        Possible {
            table,
            place,
            none: (0..FIELDS).map(not_yet).sum(),
        }
    }

    /// The pair's comparison vector when it is reachable; None as soon as the fields
    /// compared so far rule every reachable one out.
    fn compare(&self, a: &Keys, b: &Keys) -> Option<[u8; FIELDS]> {
        let mut g = [MISSING; FIELDS];
        let mut state = self.none;
        for f in SCORING_ORDER {
            let (i, levels) = (f as usize, f.level_count());
            let l = level(f, a, b);
            g[i] = l;
            let digit = if l == MISSING { levels } else { usize::from(l) };
            state = state - self.place[i] * (levels + 1) + self.place[i] * digit;
            if !self.table[state] {
                return None;
            }
        }
        Some(g)
    }
}

/// Which comparison vectors (`narrow` codes) can reach `threshold` at all. A pair's
/// weight only grows as the values it agrees on exactly get rarer (a smaller share, a
/// bigger Bayes factor; the places' strongest-first sum grows with each part), so a
/// code whose weight with the rarest values (held by two records) stays below the
/// threshold is below it for every pair: such pairs need no scoring. The margin keeps
/// rounding from ever dropping a pair the full scoring would keep.
fn reachable_codes(model: &Model, threshold: f64) -> Vec<bool> {
    let codes: usize = ALL_FIELDS.iter().map(|f| f.level_count() + 1).product();
    let rarest = [2; TF_FIELDS];
    let mut reachable = vec![true; 1 << 16];
    for (code, r) in reachable.iter_mut().enumerate().take(codes) {
        let w = model.weight_with_counts(&widen(code as u16), &rarest);
        *r = probability_of(w + 1e-6) >= threshold;
    }
    reachable
}

/// Fits the model on `records` (topped up when small). For `pool add` and import,
/// which score a few candidates and need no clusters.
pub fn fit(records: &[Record]) -> Model {
    let all = population(records);
    let packed = Packed::new(&all);
    let pairs = candidate_pairs_of(all.len(), |i| packed.get(i));
    let codes = patterns_of(&packed, &pairs);
    Model::fit(&all, &histogram(&codes), U_SAMPLE.min(all.len() * 20), 7)
}

/// How many pairs have each comparison vector (`linkage::pack`ed, as the fit takes it).
fn histogram(codes: &[u16]) -> HashMap<u32, u64> {
    let mut counts = vec![0u64; 1 << 16];
    for c in codes {
        counts[usize::from(*c)] += 1;
    }
    histogram_of_counts(counts)
}

/// `histogram` from how many pairs have each `narrow` code.
fn histogram_of_counts(counts: Vec<u64>) -> HashMap<u32, u64> {
    (0..=u16::MAX)
        .zip(counts)
        .filter(|(_, n)| *n > 0)
        .map(|(c, n)| (pack(&widen(c)), n))
        .collect()
}

fn find_root(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}

/// Fits the model on the records (and the reference population, appended for the fit
/// and removed again), scores the candidate pairs and clusters those at or above
/// `threshold` (a probability).
pub fn find(records: &[Record], threshold: f64) -> Found {
    let mut packed = Packed::new(records);
    let ids: Vec<i64> = records.iter().map(|r| r.id).collect();
    find_packed(&mut packed, &ids, threshold)
}

/// `find` on records already packed (`ids[i]` is record `i`'s id). The reference
/// population is appended to `packed` for the fit and removed again.
pub fn find_packed(packed: &mut Packed, ids: &[i64], threshold: f64) -> Found {
    find_packed_with(packed, ids, threshold, reference_packed())
}

/// The reference population (`MIN_POPULATION` records), packed: made while the scan
/// reads its customers, on another core.
pub fn reference_packed() -> Packed {
    let mut p = Packed::default();
    for r in reference_records(MIN_POPULATION) {
        p.push_record(&r);
    }
    p
}

/// `find_packed` with the reference population already made (`reference_packed`),
/// taken: it is let go of once appended.
pub fn find_packed_with(
    packed: &mut Packed,
    ids: &[i64],
    threshold: f64,
    reference: Packed,
) -> Found {
    let real = packed.len();
    for i in 0..reference.len() {
        packed.push_keys(&reference.get(i));
    }
    // Copied: not held beside its copy for the rest of the scan.
    drop(reference);
    let all = packed.len();
    let packed_ref = &*packed;
    let blocks = blocks_of(all, |i| packed_ref.get(i));
    let real = real as u32;
    // The pairs are never all held: each stripe's pairs are made on a core and let go,
    // and made again for scoring once the model is fitted. EM reads only the pairs that
    // agree exactly on a training rule's fields or on the phone (`trains_em`): those are
    // compared now, and their comparison vectors counted. Every other pair is compared only when it
    // is scored, field by field, as far as the model says it could still be a match.
    // Meanwhile, on one more thread, the value frequencies are counted (after the
    // blocks: their memory is not held at once).
    let mut counts = vec![0u64; 1 << 16];
    let (mut candidate_count, mut pair_count) = (0, 0u64);
    let tf = std::thread::scope(|scope| {
        let tf = scope.spawn(|| term_frequencies(all, &|i| packed_ref.get(i)));
        blocks.each_stripe(
            |_, pairs| {
                let (mut trained, mut real_pairs) = (Vec::new(), 0);
                each_pair_keys(packed_ref, pairs.iter().copied(), |a, ka, b, kb| {
                    real_pairs += usize::from(a < real && b < real);
                    if trains_em(ka, kb) {
                        trained.push(narrow(&compare_keys(ka, kb)));
                    }
                });
                (trained, real_pairs, pairs.len())
            },
            |_, _, _, (trained, real_pairs, pairs)| {
                for c in trained {
                    counts[usize::from(c)] += 1;
                }
                candidate_count += real_pairs;
                pair_count += pairs as u64;
            },
        );
        tf.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
    });
    let model = Model::fit_with(
        all,
        |i| packed_ref.get(i),
        |batch| packed_ref.warm(batch),
        &histogram_of_counts(counts),
        pair_count,
        U_SAMPLE.min(all * 20),
        7,
        tf,
    );
    // Scoring is per pair: each stripe on its core again. The pairs come sorted by their
    // first record, whose value frequencies are looked up once for all its pairs.
    let possible = Possible::new(&reachable_codes(&model, threshold));
    let (model_ref, recs, possible) = (&model, packed_ref, &possible);
    let mut hits: Vec<Link> = Vec::new();
    blocks.each_stripe(
        |_, pairs| {
            let mut counts = (u32::MAX, [0; TF_FIELDS]);
            let mut found = Vec::new();
            each_pair_keys(recs, pairs.iter().copied(), |a, ka, b, kb| {
                if a >= real || b >= real {
                    return;
                }
                let Some(g) = possible.compare(ka, kb) else {
                    return;
                };
                if counts.0 != a {
                    counts = (a, model_ref.tf_counts(ka));
                }
                let p = probability_of(model_ref.weight_with_counts(&g, &counts.1));
                if p >= threshold {
                    found.push(Link {
                        a: a as usize,
                        b: b as usize,
                        probability: p,
                    });
                }
            });
            found
        },
        |_, _, _, found| hits.extend(found),
    );
    drop(blocks);
    packed.truncate(real as usize);
    let clusters = cluster(ids, packed, &model, &mut hits);
    Found {
        candidate_pairs: candidate_count,
        clusters,
        model,
    }
}

/// Joins the links strongest first; two groups join only if no cross pair disagrees by
/// more than `CONTRADICTION_BITS` and the result stays below `MAX_CLUSTER`.
fn cluster(ids: &[i64], keys: &Packed, model: &Model, hits: &mut [Link]) -> Vec<Cluster> {
    hits.sort_by(|x, y| {
        y.probability
            .total_cmp(&x.probability)
            .then((x.a, x.b).cmp(&(y.a, y.b)))
    });
    let mut groups: HashMap<usize, Cluster> = HashMap::new();
    // Union-find over the touched records only (a dense Vec would be 8 bytes a record).
    let mut index: HashMap<usize, usize> = HashMap::new();
    let mut nodes: Vec<usize> = Vec::new();
    for l in hits.iter() {
        for x in [l.a, l.b] {
            index.entry(x).or_insert_with(|| {
                nodes.push(x);
                nodes.len() - 1
            });
        }
    }
    let mut up: Vec<usize> = (0..nodes.len()).collect();
    for l in hits.iter() {
        let (ia, ib) = (index[&l.a], index[&l.b]);
        let (ra, rb) = (find_root(&mut up, ia), find_root(&mut up, ib));
        if ra == rb {
            continue;
        }
        let ma = groups
            .get(&ra)
            .map(|c| c.members.clone())
            .unwrap_or_else(|| vec![l.a]);
        let mb = groups
            .get(&rb)
            .map(|c| c.members.clone())
            .unwrap_or_else(|| vec![l.b]);
        if ma.len() + mb.len() > MAX_CLUSTER {
            continue;
        }
        let consistent = ma.iter().all(|x| {
            mb.iter().all(|y| {
                (*x == l.a && *y == l.b)
                    || model.contradiction_keys(&keys.get(*x), &keys.get(*y)) > -CONTRADICTION_BITS
            })
        });
        if !consistent {
            continue;
        }
        let mut links = groups.remove(&ra).map(|c| c.links).unwrap_or_default();
        links.extend(groups.remove(&rb).map(|c| c.links).unwrap_or_default());
        links.push(l.clone());
        let mut members = ma;
        members.extend(mb);
        let (root, child) = (ra.min(rb), ra.max(rb));
        up[child] = root;
        groups.insert(
            root,
            Cluster {
                members,
                score: 1.0,
                links,
            },
        );
    }
    let mut clusters: Vec<Cluster> = groups.into_values().collect();
    for c in &mut clusters {
        c.members.sort_by_key(|i| ids[*i]);
        c.links
            .sort_by(|x, y| y.probability.total_cmp(&x.probability));
        c.score = c.links.iter().map(|l| l.probability).fold(1.0, f64::min);
    }
    clusters.sort_by_key(|c| ids[c.members[0]]);
    clusters
}

/// Pairwise precision, recall and F1 of found clusters against true cluster labels,
/// counting only records for which `include` is true (all when None).
pub fn evaluate(truth: &[u64], clusters: &[Cluster], include: Option<&[bool]>) -> (f64, f64, f64) {
    let keep = |i: usize| include.is_none_or(|v| v.get(i).copied().unwrap_or(false));
    let mut true_pairs: u64 = 0;
    let mut sizes: HashMap<u64, u64> = HashMap::new();
    for (i, t) in truth.iter().enumerate() {
        if keep(i) {
            *sizes.entry(*t).or_default() += 1;
        }
    }
    for n in sizes.values() {
        true_pairs += n * (n - 1) / 2;
    }
    let (mut found, mut correct) = (0u64, 0u64);
    for c in clusters {
        let members: Vec<usize> = c.members.iter().copied().filter(|m| keep(*m)).collect();
        let n = members.len() as u64;
        found += n * n.saturating_sub(1) / 2;
        let mut by_truth: HashMap<u64, u64> = HashMap::new();
        for m in &members {
            *by_truth.entry(truth[*m]).or_default() += 1;
        }
        correct += by_truth.values().map(|k| k * (k - 1) / 2).sum::<u64>();
    }
    let p = if found == 0 {
        1.0
    } else {
        correct as f64 / found as f64
    };
    let r = if true_pairs == 0 {
        1.0
    } else {
        correct as f64 / true_pairs as f64
    };
    let f = if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    };
    (p, r, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(
        id: i64,
        name: &str,
        company: &str,
        phone: Option<&str>,
        email: Option<&str>,
        city: &str,
        address: &str,
    ) -> Record {
        Record::new(
            id,
            Some(name).filter(|s| !s.is_empty()),
            Some(company).filter(|s| !s.is_empty()),
            phone,
            email,
            Some(city).filter(|s| !s.is_empty()),
            Some(address).filter(|s| !s.is_empty()),
            None,
        )
    }

    fn model() -> Model {
        fit(&[])
    }

    #[test]
    fn same_phone_and_name_is_a_duplicate_with_its_reason() {
        let m = model();
        let a = rec(
            1,
            "张伟",
            "杭州云帆科技有限公司",
            Some("8613800138000"),
            None,
            "杭州",
            "",
        );
        let b = rec(
            2,
            "张伟",
            "杭州云帆科技",
            Some("8613800138000"),
            Some("zw@qq.com"),
            "杭州",
            "",
        );
        let why = m.explain(&a, &b);
        assert!(why.probability >= DEFAULT_THRESHOLD, "{why:?}");
        assert!(why.reasons().contains("same phone"), "{}", why.reasons());
    }

    #[test]
    fn shared_switchboard_is_not_enough() {
        let m = model();
        let a = rec(
            1,
            "张伟",
            "云帆科技",
            Some("86057188886666"),
            None,
            "杭州",
            "",
        );
        let b = rec(
            2,
            "李娜",
            "明远贸易",
            Some("86057188886666"),
            None,
            "杭州",
            "",
        );
        assert!(
            m.probability(&a, &b) < DEFAULT_THRESHOLD,
            "{:?}",
            m.explain(&a, &b)
        );
    }

    #[test]
    fn typos_and_swapped_names_with_some_contact() {
        let m = model();
        let a = rec(
            1,
            "张伟",
            "杭州云帆科技有限公司",
            Some("8613800138000"),
            None,
            "杭州",
            "浙江省杭州市西湖区文三路90号",
        );
        let b = rec(
            2,
            "张玮",
            "杭州云帆科技",
            Some("8613800138000"),
            None,
            "杭州",
            "浙江省杭州市西湖区文三路90号",
        );
        assert!(
            m.probability(&a, &b) >= DEFAULT_THRESHOLD,
            "{:?}",
            m.explain(&a, &b)
        );
        let e1 = rec(
            3,
            "Henry Collinson",
            "",
            Some("61404217909"),
            None,
            "Bonnyrigg",
            "1 McGivern Crescent Winchester 2602",
        );
        let e2 = rec(
            4,
            "Collinson Henry",
            "",
            Some("61404213909"),
            None,
            "Bonnyrigg",
            "1 McGivern Crescent Winchester 2602",
        );
        assert!(
            m.probability(&e1, &e2) >= DEFAULT_THRESHOLD,
            "{:?}",
            m.explain(&e1, &e2)
        );
    }

    #[test]
    fn common_name_at_one_company_with_other_contacts_is_not_a_duplicate() {
        let m = model();
        let a = rec(
            1,
            "王林",
            "创亿信息有限公司",
            Some("8613284849202"),
            Some("u24922@qq.com"),
            "杭州",
            "",
        );
        let b = rec(
            2,
            "王林",
            "创亿信息有限公司",
            Some("8619292562070"),
            Some("u25255@qq.com"),
            "杭州",
            "",
        );
        assert!(
            m.probability(&a, &b) < DEFAULT_THRESHOLD,
            "{:?}",
            m.explain(&a, &b)
        );
        let c = rec(3, "张伟", "明远贸易", None, None, "杭州", "");
        let d = rec(4, "张伟", "华创电子", None, None, "杭州", "");
        assert!(
            m.probability(&c, &d) < DEFAULT_THRESHOLD,
            "{:?}",
            m.explain(&c, &d)
        );
    }

    #[test]
    fn clusters_and_evaluation() {
        let rs = vec![
            rec(
                1,
                "张伟",
                "云帆科技",
                Some("8613800000001"),
                None,
                "杭州",
                "",
            ),
            rec(
                2,
                "张伟",
                "云帆科技",
                Some("8613800000001"),
                None,
                "杭州",
                "",
            ),
            rec(
                3,
                "张伟",
                "云帆科技有限公司",
                Some("8613800000001"),
                Some("zw@qq.com"),
                "杭州",
                "",
            ),
            rec(
                4,
                "李娜",
                "明远贸易",
                Some("8613900000002"),
                None,
                "上海",
                "",
            ),
        ];
        let f = find(&rs, DEFAULT_THRESHOLD);
        assert_eq!(f.clusters.len(), 1, "{:?}", f.model.explain(&rs[0], &rs[1]));
        assert_eq!(f.clusters[0].members, [0, 1, 2]);
        assert_eq!(f.clusters[0].links.len(), 2);
        let (p, r, f1) = evaluate(&[1, 1, 1, 4], &f.clusters, None);
        assert_eq!((p, r, f1), (1.0, 1.0, 1.0));
        let (p, r, _) = evaluate(&[1, 1, 3, 4], &f.clusters, None);
        assert!((p - 1.0 / 3.0).abs() < 1e-9 && r == 1.0);
        let (p, r, _) = evaluate(&[1, 1, 3, 4], &f.clusters, Some(&[true, true, false, true]));
        assert_eq!((p, r), (1.0, 1.0), "record 3 left out");
    }

    #[test]
    fn records_from_stored_keys_equal_records_from_values() {
        let input = crate::domain::customer::CustomerInput {
            name: Some("Goode, Caitlin".into()),
            company: Some("Harbour Logistics Pty Ltd".into()),
            phone: Some("+61 404 522 895".into()),
            email: Some("C.Goode@Gmail.com".into()),
            city: Some("Bonnyrigg".into()),
            address: Some("72 Yuranigh Court".into()),
            ..Default::default()
        };
        for name in ["Goode, Caitlin", "张伟"] {
            let mut i = input.clone();
            i.name = Some(name.into());
            let f = crate::domain::customer::validate(&i, false).unwrap();
            let k = &f.keys;
            let a = Record::from_fields(7, &f, None);
            let b = Record::from_keys(
                7,
                f.name.as_deref(),
                k.name.as_deref(),
                k.company.as_deref(),
                k.phone.as_deref(),
                k.email.as_deref(),
                f.city.as_deref(),
                f.address.as_deref(),
            );
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
        }
    }

    /// The packed keys are the records' keys, a missing contact apart from an empty one,
    /// and scoring with counts looked up once per record weighs exactly as `weight_of`.
    #[test]
    fn packed_keys_and_counted_weights_equal_the_records() {
        let mut rs = reference_population(300);
        rs.push(rec(1, "", "", None, Some(""), "", ""));
        rs.push(rec(2, "张伟", "云帆", Some(""), None, "杭州", "文三路90号"));
        // A key of 127 bytes still has the one-byte header, one of 128 the long one, and
        // one past 16,383 bytes takes three base-64 digits.
        rs.push(rec(4, &"a".repeat(127), "云帆", None, None, "杭州", "x"));
        rs.push(rec(5, "张伟", &"b".repeat(128), None, None, "杭州", "x"));
        rs.push(rec(
            3,
            "张伟",
            "云帆",
            None,
            None,
            "杭州",
            &"文三路".repeat(2000),
        ));
        let packed = Packed::new(&rs);
        assert_eq!(packed.len(), rs.len());
        for (i, r) in rs.iter().enumerate() {
            assert_eq!(packed.get(i), r.keys(), "{r:?}");
        }
        // A record packed as it was read comes back whole, and after the reference
        // population was appended and removed again the packed records are the same.
        let mut one = Packed::default();
        for (i, r) in rs.iter().enumerate() {
            one.push_record(r);
            let back = one.record(i, r.id, r.owner.clone());
            assert_eq!(format!("{back:?}"), format!("{r:?}"));
        }
        let ids: Vec<i64> = rs.iter().map(|r| r.id).collect();
        let found = find_packed(&mut one, &ids, DEFAULT_THRESHOLD);
        assert_eq!(one.len(), rs.len());
        assert_eq!(one.get(rs.len() - 1), rs[rs.len() - 1].keys());
        let again = find(&rs, DEFAULT_THRESHOLD);
        assert_eq!(found.candidate_pairs, again.candidate_pairs);
        let m = fit(&rs);
        for i in 0..rs.len() {
            let j = (i * 7 + 3) % rs.len();
            for (a, b) in [(i, j), (i, i)] {
                let g = crate::domain::linkage::compare(&rs[a], &rs[b]);
                assert_eq!(g, compare_keys(&packed.get(a), &packed.get(b)));
                let counts = m.tf_counts(&packed.get(a));
                assert_eq!(
                    m.weight_of(&g, &rs[a]).to_bits(),
                    m.weight_with_counts(&g, &counts).to_bits()
                );
                assert_eq!(
                    m.contradiction(&rs[a], &rs[b]).to_bits(),
                    m.contradiction_keys(&packed.get(a), &packed.get(b))
                        .to_bits()
                );
            }
        }
    }

    /// `n` generated records (with duplicates), packed, and their candidate pairs.
    fn corpus_pairs(n: usize) -> (Vec<Record>, Packed, Pairs) {
        let rs = reference_population(n);
        let packed = Packed::new(&rs);
        let pairs = candidate_pairs_of(rs.len(), |i| packed.get(i));
        (rs, packed, pairs)
    }

    /// A code left out of scoring as unreachable never belongs to a pair at or above
    /// the threshold, whatever its records' value frequencies (and the codes of the
    /// clearest matches are kept).
    #[test]
    fn unreachable_codes_never_hold_a_match() {
        let (rs, packed, pairs) = corpus_pairs(3_000);
        let codes = patterns_of(&packed, &pairs);
        let m = fit(&rs);
        let same = narrow(&[0; FIELDS]) as usize;
        for threshold in [0.0, 0.5, 0.9, DEFAULT_THRESHOLD, 0.999, 1.0] {
            let reachable = reachable_codes(&m, threshold);
            assert!(threshold == 1.0 || reachable[same], "{threshold}");
            let mut skipped = 0;
            for ((a, b), code) in pairs.iter().zip(&codes) {
                if !reachable[usize::from(*code)] {
                    skipped += 1;
                    let p = m.probability(&rs[a as usize], &rs[b as usize]);
                    assert!(p < threshold, "{threshold}: {a} {b} {p}");
                }
            }
            assert!(threshold > 0.0 || skipped == 0, "every pair reaches 0");
            if threshold == DEFAULT_THRESHOLD {
                assert!(skipped > pairs.len() / 2, "{skipped} of {}", pairs.len());
            }
        }
    }

    /// Scoring compares a pair's fields only while a match is still possible: a pair
    /// it compares to the end has the comparison vector of every field compared, and a
    /// pair it leaves has an unreachable one (so, with `unreachable_codes_never_hold_a_
    /// match`, it finds exactly the pairs at or above the threshold). At the default
    /// threshold most pairs are left after a few fields.
    #[test]
    fn pruned_scoring_finds_what_comparing_every_field_finds() {
        let (rs, packed, pairs) = corpus_pairs(3_000);
        let m = fit(&rs);
        for threshold in [0.0, 0.5, 0.9, DEFAULT_THRESHOLD, 0.999, 1.0] {
            let reachable = reachable_codes(&m, threshold);
            let possible = Possible::new(&reachable);
            let mut compared = 0;
            for (a, b) in pairs.iter() {
                let (ka, kb) = (packed.get(a as usize), packed.get(b as usize));
                let full = compare_keys(&ka, &kb);
                let code = usize::from(narrow(&full));
                match possible.compare(&ka, &kb) {
                    Some(g) => {
                        assert_eq!(g, full, "{threshold}: {a} {b}");
                        assert!(reachable[code], "{threshold}: {a} {b}");
                        compared += 1;
                    }
                    None => assert!(!reachable[code], "{threshold}: {a} {b} {full:?}"),
                }
            }
            if threshold == 0.0 {
                assert_eq!(compared, pairs.len());
            }
            if threshold == DEFAULT_THRESHOLD {
                assert!(compared < pairs.len() / 4, "{compared} of {}", pairs.len());
            }
        }
    }

    /// The scan end to end against fitting on every pair's comparison vector and
    /// scoring every candidate pair in full (the reference population appended for the
    /// fit, as the scan does): the same model, its pairs counted over every candidate
    /// pair (the reference population's too), and the same clusters.
    #[test]
    fn the_scan_finds_what_scoring_every_pair_finds() {
        let profile = crate::domain::corpus::profile("heldout");
        let rs: Vec<Record> = corpus_records(profile, 2_500, |i| i as i64 + 1).collect();
        let ids: Vec<i64> = rs.iter().map(|r| r.id).collect();
        let found = find(&rs, DEFAULT_THRESHOLD);
        // By hand: every pair compared, the model fitted on all their vectors.
        let all = population(&rs);
        let packed = Packed::new(&all);
        let pairs = candidate_pairs_of(all.len(), |i| packed.get(i));
        let model = fit(&rs);
        assert_eq!(found.model.pairs, pairs.len() as u64);
        assert_eq!(model.pairs, pairs.len() as u64);
        let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * x.abs().max(y.abs());
        assert!(close(found.model.lambda, model.lambda));
        let real = rs.len() as u32;
        let mut hits: Vec<Link> = pairs
            .iter()
            .filter(|(a, b)| *a < real && *b < real)
            .filter_map(|(a, b)| {
                let p = model.probability(&all[a as usize], &all[b as usize]);
                (p >= DEFAULT_THRESHOLD).then_some(Link {
                    a: a as usize,
                    b: b as usize,
                    probability: p,
                })
            })
            .collect();
        assert!(hits.len() > 100, "{}", hits.len());
        let want = cluster(&ids, &Packed::new(&rs), &model, &mut hits);
        let members = |cs: &[Cluster]| -> Vec<Vec<usize>> {
            let mut m: Vec<Vec<usize>> = cs.iter().map(|c| c.members.clone()).collect();
            m.sort();
            m
        };
        assert_eq!(members(&found.clusters), members(&want));
    }

    /// `level` is `compare_keys` one field at a time, and `exact` its exact level, on
    /// candidate pairs (near and exact agreements) and on random pairs.
    #[test]
    fn one_field_at_a_time_is_compare_keys() {
        use crate::domain::linkage::exact;
        let (rs, packed, pairs) = corpus_pairs(2_000);
        let mut rng = crate::domain::synthetic::Rng::new(11);
        let random = (0..20_000).map(|_| {
            let a = rng.below(rs.len() as u64) as u32;
            (a, rng.below(rs.len() as u64) as u32)
        });
        for (a, b) in pairs.iter().chain(random) {
            let (ka, kb) = (packed.get(a as usize), packed.get(b as usize));
            let full = compare_keys(&ka, &kb);
            for f in ALL_FIELDS {
                assert_eq!(level(f, &ka, &kb), full[f as usize], "{f:?} {a} {b}");
                assert_eq!(exact(f, &ka, &kb), full[f as usize] == 0, "{f:?} {a} {b}");
            }
        }
    }

    /// EM given only the patterns of the pairs that `trains_em` (and the number of all
    /// the pairs) fits the model EM fits given every pair's pattern; `trains_em` on a
    /// pair's keys is EM's own test of its pattern.
    #[test]
    fn em_reads_only_the_pairs_that_train_it() {
        use crate::domain::linkage::trains_em_pattern;
        let (rs, packed, pairs) = corpus_pairs(3_000);
        let codes = patterns_of(&packed, &pairs);
        let mut trained = Vec::new();
        for ((a, b), code) in pairs.iter().zip(&codes) {
            let trains = trains_em(&packed.get(a as usize), &packed.get(b as usize));
            assert_eq!(trains, trains_em_pattern(&widen(*code)), "{a} {b}");
            if trains {
                trained.push(*code);
            }
        }
        assert!(!trained.is_empty() && trained.len() < codes.len() / 4);
        let fit = |codes: &[u16]| {
            let tf = term_frequencies(rs.len(), &|i| packed.get(i));
            let all = pairs.len() as u64;
            Model::fit_with(
                rs.len(),
                |i| packed.get(i),
                |_| 0,
                &histogram(codes),
                all,
                40_000,
                7,
                tf,
            )
        };
        let (every, some) = (fit(&codes), fit(&trained));
        let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1e-300);
        assert!(
            close(every.lambda, some.lambda),
            "{} {}",
            every.lambda,
            some.lambda
        );
        for (x, y) in [(&every.m, &some.m), (&every.u, &some.u)] {
            for (fx, fy) in x.iter().zip(y) {
                assert!(
                    fx.iter().zip(fy).all(|(a, b)| close(*a, *b)),
                    "{fx:?} {fy:?}"
                );
            }
        }
        let (nx, ny) = (&every.u_name_given_phone, &some.u_name_given_phone);
        assert!(
            nx.iter().zip(ny).all(|(a, b)| close(*a, *b)),
            "{nx:?} {ny:?}"
        );
    }

    /// Every comparison vector the fields' levels allow fits 16 bits and comes back.
    #[test]
    fn narrow_codes_are_the_comparison_vectors() {
        let mut g = [0u8; FIELDS];
        let mut seen = std::collections::HashSet::new();
        let digits: Vec<usize> = ALL_FIELDS.iter().map(|f| f.level_count() + 1).collect();
        let all: usize = digits.iter().product();
        for n in 0..all {
            let mut rest = n;
            for (l, d) in g.iter_mut().zip(&digits).rev() {
                let x = rest % d;
                rest /= d;
                *l = if x == d - 1 { MISSING } else { x as u8 };
            }
            let c = narrow(&g);
            assert_eq!(widen(c), g);
            assert!(seen.insert(c), "{g:?}");
        }
        assert_eq!(seen.len(), all);
        let counts = histogram(&[narrow(&g), narrow(&g), narrow(&[0; FIELDS])]);
        assert_eq!(counts[&pack(&g)], 2);
        assert_eq!(counts[&pack(&[0; FIELDS])], 1);
    }

    #[test]
    fn a_chain_does_not_join_two_different_people() {
        // A~B share a phone, B~C share an e-mail, but A and C differ in phone, e-mail and city.
        let m = model();
        let a = rec(
            1,
            "张伟",
            "云帆科技",
            Some("8613800000001"),
            Some("a@x.cn"),
            "杭州",
            "",
        );
        let b = rec(
            2,
            "张伟",
            "云帆科技",
            Some("8613800000001"),
            Some("b@x.cn"),
            "杭州",
            "",
        );
        let c = rec(
            3,
            "张伟",
            "云帆科技",
            Some("8613912345678"),
            Some("b@x.cn"),
            "上海",
            "",
        );
        let rs = vec![a, b, c];
        let mut hits = vec![
            Link {
                a: 0,
                b: 1,
                probability: 0.99,
            },
            Link {
                a: 1,
                b: 2,
                probability: 0.98,
            },
        ];
        assert!(
            m.contradiction(&rs[0], &rs[2]) < -CONTRADICTION_BITS,
            "{:?}",
            m.explain(&rs[0], &rs[2])
        );
        let ids: Vec<i64> = rs.iter().map(|r| r.id).collect();
        let cl = cluster(&ids, &Packed::new(&rs), &m, &mut hits);
        assert_eq!(cl.len(), 1);
        assert_eq!(cl[0].members, [0, 1]);
    }
}
