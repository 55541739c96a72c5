//! Blocking: which pairs of customers are worth comparing. A union of rules, each a key
//! a record emits; records sharing any key are compared. A typo in any one field still
//! leaves another rule that brings the pair together. A block larger than `MAX_BLOCK`
//! (everyone named 王伟, a big company's switchboard) is compared with its neighbours
//! only (sorted neighbourhood), so the work stays near-linear in customers. Pure.

use super::linkage::Keys;
use super::matching::Record;

/// Blocks up to this size are compared all-pairs; larger ones by sorted neighbourhood.
pub const MAX_BLOCK: usize = 40;
const WINDOW: usize = 6;

/// A rule's key: a quick multiply-xor hash (64 bits: a collision only adds a pair to
/// compare), several times cheaper than SipHash on the millions of keys a scan makes.
fn h(rule: u8, parts: &[&str]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut x = u64::from(rule).wrapping_add(1).wrapping_mul(K);
    let mut mix = |w: u64| x = (x.rotate_left(23) ^ w).wrapping_mul(K);
    for p in parts {
        let bytes = p.as_bytes();
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            mix(u64::from_le_bytes(b));
        }
        let mut b = [0u8; 8];
        b[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        mix(u64::from_le_bytes(b));
        // The length ends each part: ("ab", "c") is not ("a", "bc").
        mix(bytes.len() as u64);
    }
    // Spread every input bit over the whole key.
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^ (x >> 33)
}

fn prefix(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn first_char(s: &str) -> &str {
    prefix(s, 1)
}

/// Every string with one character removed (two strings one edit apart share one).
#[cfg(test)]
fn deletions(s: &str) -> impl Iterator<Item = String> + '_ {
    s.char_indices()
        .map(move |(i, c)| format!("{}{}", &s[..i], &s[i + c.len_utf8()..]))
}

/// `f` on each of `s` with one character removed, made in a buffer on the stack (a
/// name of up to 12 characters is at most 48 bytes) rather than a new string each.
fn each_deletion(s: &str, mut f: impl FnMut(&str)) {
    let mut buf = [0u8; 64];
    let bytes = s.as_bytes();
    for (i, c) in s.char_indices() {
        let rest = &bytes[i + c.len_utf8()..];
        let len = i + rest.len();
        if len > buf.len() {
            f(&format!("{}{}", &s[..i], &s[i + c.len_utf8()..]));
            continue;
        }
        buf[..i].copy_from_slice(&bytes[..i]);
        buf[i..len].copy_from_slice(rest);
        // Whole characters on both sides of a whole character: still UTF-8.
        if let Ok(d) = std::str::from_utf8(&buf[..len]) {
            f(d);
        }
    }
}

/// `f` on the parts but the one numbered `skip`, joined by `sep` (what
/// `parts.collect::<Vec<_>>().join(sep)` makes), in a buffer on the stack when it fits.
fn joined<'a>(parts: impl Iterator<Item = &'a str>, skip: usize, sep: &str, f: impl FnOnce(&str)) {
    let mut buf = [0u8; 128];
    let mut len = 0;
    let mut heap: Option<String> = None;
    for (n, (_, part)) in parts.enumerate().filter(|(i, _)| *i != skip).enumerate() {
        let mut put = |s: &str| match &mut heap {
            Some(h) => h.push_str(s),
            None if len + s.len() <= buf.len() => {
                buf[len..len + s.len()].copy_from_slice(s.as_bytes());
                len += s.len();
            }
            None => {
                let mut h = String::from_utf8_lossy(&buf[..len]).into_owned();
                h.push_str(s);
                heap = Some(h);
            }
        };
        if n > 0 {
            put(sep);
        }
        put(part);
    }
    match &heap {
        Some(h) => f(h),
        // Whole strings copied end to end: still UTF-8.
        None => f(std::str::from_utf8(&buf[..len]).unwrap_or_default()),
    }
}

/// The blocking keys of one record (the rules, by number).
#[cfg(test)]
pub fn keys(r: &Keys, out: &mut Vec<u64>) {
    for group in 0..GROUPS {
        group_keys(r, group, out);
    }
}

/// The rules in groups of a similar number of keys a record, so that a blocking pass can
/// make one group's keys only: phone and e-mail (1–5); name with city, company or sound
/// (6–9, 13) and the address (11, 12); a name one character off at the address (10,
/// one key a character).
const GROUPS: usize = 3;

/// The keys of the rules in `group` (0..GROUPS) of one record.
fn group_keys(r: &Keys, group: usize, out: &mut Vec<u64>) {
    let initial = first_char(r.name_sorted);
    if group == 0 {
        // 1. same phone; 2. same phone but for the last four digits (a typo there) and
        //    the same first name letter; 3. same last seven digits (a typo in front).
        if let Some(p) = r.phone {
            out.push(h(1, &[p]));
            if p.len() >= 9 {
                out.push(h(2, &[&p[..p.len() - 4], initial]));
                out.push(h(3, &[&p[p.len() - 7..], initial]));
            }
        }
        // 4. same e-mail; 5. same local part (a domain typo) and first name letter.
        if let Some(e) = r.email {
            out.push(h(4, &[e]));
            if let Some((local, _)) = e.rsplit_once('@') {
                if local.len() >= 3 {
                    out.push(h(5, &[local, initial]));
                }
            }
        }
        return;
    }
    if group == 2 {
        // 10. name one character off and the same address start.
        if !r.name.is_empty() && !r.address.is_empty() {
            let a = prefix(r.address, 8);
            out.push(h(10, &[r.name, a]));
            if r.name.chars().count() <= 12 {
                each_deletion(r.name, |d| out.push(h(10, &[d, a])));
            }
        }
        return;
    }
    if !r.name.is_empty() {
        // 6. name and city; 7. name and company; 8. name tokens in any order.
        if !r.city.is_empty() {
            out.push(h(6, &[r.name, r.city]));
        }
        if !r.company.is_empty() {
            out.push(h(7, &[r.name, r.company]));
            // 9. same company and first name letter (a typo in the rest of the name).
            out.push(h(9, &[r.company, initial]));
        }
        out.push(h(8, &[r.name_sorted]));
        // 13. a Chinese name's sound, and that sound with one given-name syllable
        //     dropped (IME slips and a missed character).
        if !r.name_sound.is_empty() {
            out.push(h(13, &[r.name_sound]));
            let syllables = r.name_sound.split(' ').count();
            if syllables >= 3 {
                for skip in 1..syllables {
                    joined(r.name_sound.split(' '), skip, " ", |rest| {
                        out.push(h(13, &[rest]))
                    });
                }
            }
        }
    }
    // 11. same address (families, colleagues, and a person whose name was mistyped).
    if !r.address.is_empty() {
        out.push(h(11, &[r.address]));
        // 12. same house numbers and city (an address typo in the words).
        let mut numbers = r
            .address
            .split(|c: char| !c.is_ascii_digit())
            .filter(|n| !n.is_empty())
            .peekable();
        if numbers.peek().is_some() {
            joined(numbers, usize::MAX, "-", |nums| {
                out.push(h(12, &[nums, r.city, initial]))
            });
        }
    }
}

/// Candidate pairs, each once, as (smaller index, larger index), sorted.
pub fn candidate_pairs(records: &[Record]) -> Vec<(u32, u32)> {
    candidate_pairs_of(records.len(), |i| records[i].keys()).to_vec()
}

/// Candidate pairs grouped by their first record: record `a`'s partners are
/// `seconds[starts[a]..starts[a + 1]]`, ascending, each larger than `a`. Four bytes a
/// pair instead of the eight of an `(a, b)` list.
#[derive(Debug, Default)]
pub struct Pairs {
    starts: Vec<usize>,
    seconds: Vec<u32>,
}

impl Pairs {
    pub fn len(&self) -> usize {
        self.seconds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seconds.is_empty()
    }

    /// The pairs numbered `from..to` (in order: by first record, then second).
    pub fn range(&self, from: usize, to: usize) -> impl Iterator<Item = (u32, u32)> + '_ {
        let to = to.min(self.len());
        // The first record of pair `from`: the last record whose pairs start at or before it.
        let mut a = self
            .starts
            .partition_point(|&s| s <= from)
            .saturating_sub(1);
        (from..to).map(move |i| {
            while self.starts[a + 1] <= i {
                a += 1;
            }
            (a as u32, self.seconds[i])
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.range(0, self.len())
    }

    pub fn to_vec(&self) -> Vec<(u32, u32)> {
        self.iter().collect()
    }
}

/// `candidate_pairs` over `n` records whose keys `record(i)` gives (the scan's packed
/// buffer: no per-record strings needed).
pub fn candidate_pairs_of<'a>(n: usize, record: impl Fn(usize) -> Keys<'a> + Sync) -> Pairs {
    candidate_pairs_on(n, record, super::matching::threads())
}

/// `candidate_pairs_of` on `threads` threads (the same pairs on any number).
fn candidate_pairs_on<'a>(
    n: usize,
    record: impl Fn(usize) -> Keys<'a> + Sync,
    threads: usize,
) -> Pairs {
    pairs_of_blocks(n, &blocks_on(n, record, threads))
}

/// Every pair of the blocks of `n` records, grouped by first record.
fn pairs_of_blocks(n: usize, blocks: &Blocks) -> Pairs {
    let mut pairs = Pairs {
        starts: Vec::with_capacity(n + 1),
        seconds: Vec::new(),
    };
    blocks.each_stripe(
        |_, raw| raw.to_vec(),
        |_, lo, hi, raw| {
            if lo == 0 {
                // Room for all, from the first stripe's pairs (one allocation, not a
                // doubling copy). A pair belongs to its earlier record, so a stripe's
                // share falls from the first to the last: about half the first's per
                // stripe, reserved with a margin (room never written takes no memory).
                let stripes = n as f64 / (hi - lo) as f64;
                pairs
                    .seconds
                    .reserve_exact((raw.len() as f64 * stripes * 0.65) as usize + 1024);
            }
            let mut at = raw.iter().peekable();
            for a in lo as u32..hi as u32 {
                pairs.starts.push(pairs.seconds.len());
                while let Some(&(_, b)) = at.next_if(|(x, _)| *x == a) {
                    pairs.seconds.push(b);
                }
            }
        },
    );
    pairs.starts.push(pairs.seconds.len());
    pairs
}

/// The blocks of two or more records (a block's members in index order), from which
/// the candidate pairs are made a stripe of first records at a time.
#[derive(Debug, Default)]
pub struct Blocks {
    n: usize,
    threads: usize,
    /// Every block's members, one block after another; a block's last member carries
    /// `LAST`, and every member of a block larger than `MAX_BLOCK` carries `BIG`.
    members: Vec<u32>,
    /// The positions in `members` of every member but a block's last (each one a first
    /// record of pairs), grouped by the stripe its record is in: stripe `s`'s are
    /// `firsts[by_stripe[s]..by_stripe[s + 1]]`. A stripe reads its own members only,
    /// not every block.
    firsts: Vec<u32>,
    by_stripe: Vec<u32>,
}

/// Records whose keys one blocking pass holds at most (about 15 keys of 8 bytes each:
/// ~5 MB a pass). Past one pass, the passes make one group of rules' keys each (three
/// passes make every key once); more passes than groups cost making a group's keys once
/// more for each further share of the hash space; fewer would make the blocking the
/// scan's peak of memory.
const PASS_RECORDS: usize = 40_000;

/// Marks on a member's index in `Blocks::members` (records are fewer than 2^30).
const LAST: u32 = 1 << 31;
const BIG: u32 = 1 << 30;
const RECORD: u32 = BIG - 1;

/// A blocking key (its top half: the low bits choose the pass) and a record's index,
/// as `blocks_on` sorts them.
fn block_entry(key: u64, record: u32) -> u64 {
    (key & !0xffff_ffff) | u64::from(record)
}

/// The blocks of `n` records whose keys `record(i)` gives, on every core.
pub fn blocks_of<'a>(n: usize, record: impl Fn(usize) -> Keys<'a> + Sync) -> Blocks {
    blocks_on(n, record, super::matching::threads())
}

fn blocks_on<'a>(n: usize, record: impl Fn(usize) -> Keys<'a> + Sync, threads: usize) -> Blocks {
    blocks_in(n, record, threads, n.div_ceil(PASS_RECORDS).clamp(1, 8))
}

/// `blocks_on` with the keys split in (at least) `shares_needed` passes.
fn blocks_in<'a>(
    n: usize,
    record: impl Fn(usize) -> Keys<'a> + Sync,
    threads: usize,
    shares_needed: usize,
) -> Blocks {
    let record = &record;
    let threads = threads.max(1);
    // A member's index keeps its two top bits for marks.
    debug_assert!(n <= RECORD as usize);
    // Every (key, record) at once would be the scan's largest allocation (eight bytes
    // for each of some 15 keys a record): the keys are made in several passes instead,
    // each making one group of rules' keys (`GROUPS`) and keeping those in one share of
    // the hash space, so only that share is sorted at a time. A pass's blocks are final
    // (a key lives in one group and one share), and the blocks' order does not matter
    // (the pairs are sorted below). Each key is made once per share count, not once
    // per pass.
    let groups = if shares_needed == 1 { 1 } else { GROUPS };
    let shares = shares_needed.div_ceil(groups) as u64;
    let passes = groups as u64 * shares;
    // A pass's keys are kept in `threads` lists by their top bits, so every key of one
    // list is below every key of the next: sorted each on its own core, the lists in turn
    // are the pass's keys sorted. A key and its record in one word: the key's top 32
    // bits (its low bits chose the share) above the record's index, so sorted words
    // order as (key, record). Two keys of a pass with the same top half (a handful at
    // 100,000 records, some dozens of pairs) make one block: that only adds pairs to
    // compare.
    let part_of = |e: u64| (((e >> 32) * threads as u64) >> 32) as usize;
    let mut keyed: Vec<Vec<u64>> = vec![Vec::new(); threads];
    // Each pass's blocks, as members (sized exactly: no doubling copy of a big list).
    let mut blocks_by_pass: Vec<Vec<u32>> = Vec::new();
    // Each thread's buffers (its keys by list, and one record's keys), made here and
    // reused by every batch: a buffer a thread grows stays in this thread's heap rather
    // than leaving memory behind in the helper threads' own malloc arenas.
    type Work = (Vec<Vec<u64>>, Vec<u64>);
    let mut work: Vec<Work> = (0..threads)
        .map(|_| {
            let lists = (0..threads).map(|_| Vec::with_capacity(1024)).collect();
            (lists, Vec::with_capacity(64))
        })
        .collect();
    for pass in 0..passes {
        let (group, share) = ((pass / shares) as usize, pass % shares);
        keyed.iter_mut().for_each(Vec::clear);
        // Each record's keys, on every core, a small batch at a time (the threads'
        // buffers stay small next to the lists they are appended to).
        for (b, from) in (0..n).step_by(1 << 13).enumerate() {
            let to = (from + (1 << 13)).min(n);
            let chunk = (to - from).div_ceil(threads).max(1);
            std::thread::scope(|scope| {
                for ((out, buf), start) in work.iter_mut().zip((from..to).step_by(chunk)) {
                    let part = start..(start + chunk).min(to);
                    scope.spawn(move || {
                        for i in part {
                            buf.clear();
                            let r = record(i);
                            if groups == 1 {
                                (0..GROUPS).for_each(|g| group_keys(&r, g, buf));
                            } else {
                                group_keys(&r, group, buf);
                            }
                            buf.retain(|k| k % shares == share);
                            for k in buf.iter_mut() {
                                *k = block_entry(*k, i as u32);
                            }
                            buf.sort_unstable();
                            buf.dedup();
                            for &e in buf.iter() {
                                out[part_of(e)].push(e);
                            }
                        }
                    });
                }
            });
            if b == 0 {
                // Room for the pass, from its first batch's keys per record (one
                // allocation a list, reused by the passes after it when big enough).
                for (t, list) in keyed.iter_mut().enumerate() {
                    let got = work.iter().map(|w| w.0[t].len()).sum::<usize>() as f64;
                    let room = (got / (to - from) as f64 * 1.1 * n as f64) as usize + 1024;
                    list.reserve_exact(room);
                }
            }
            // In thread order: each list gets its keys by record, as one thread would.
            for (out, _) in work.iter_mut() {
                for (list, mine) in keyed.iter_mut().zip(out.iter_mut()) {
                    list.extend_from_slice(mine);
                    mine.clear();
                }
            }
        }
        std::thread::scope(|scope| {
            for list in keyed.iter_mut() {
                scope.spawn(move || list.sort_unstable());
            }
        });
        // Most keys are one record's only (a block of one makes no pair): only the blocks
        // of two or more are kept, as their members' indexes (the keys are no longer
        // needed once the blocks are known). Counted first, then copied.
        let each_block = |f: &mut dyn FnMut(&[u64])| {
            for keyed in &keyed {
                let mut start = 0;
                while start < keyed.len() {
                    let key = keyed[start] >> 32;
                    let mut end = start + 1;
                    while end < keyed.len() && keyed[end] >> 32 == key {
                        end += 1;
                    }
                    if end - start >= 2 {
                        f(&keyed[start..end]);
                    }
                    start = end;
                }
            }
        };
        let mut size = 0;
        each_block(&mut |block| size += block.len());
        let mut members = Vec::with_capacity(size);
        each_block(&mut |block| {
            let big = if block.len() > MAX_BLOCK { BIG } else { 0 };
            members.extend(block.iter().map(|e| *e as u32 | big));
            if let Some(last) = members.last_mut() {
                *last |= LAST;
            }
        });
        blocks_by_pass.push(members);
    }
    drop(keyed);
    // The passes' blocks joined: the first pass's list grown in place (a big one is
    // moved by the kernel, not copied beside itself), each later one let go of as it is
    // appended.
    let rest: usize = blocks_by_pass.iter().skip(1).map(Vec::len).sum();
    let mut passes_blocks = blocks_by_pass.into_iter();
    let mut members = passes_blocks.next().unwrap_or_default();
    members.reserve_exact(rest);
    for pass in passes_blocks {
        members.extend(pass);
    }
    let mut blocks = Blocks {
        n,
        threads,
        members,
        firsts: Vec::new(),
        by_stripe: Vec::new(),
    };
    blocks.index_firsts();
    blocks
}

impl Blocks {
    /// Groups the members that are first records by their stripe (a counting sort).
    fn index_firsts(&mut self) {
        let (stripe, members) = (self.stripe(), &self.members);
        let firsts = members.iter().filter(|m| **m & LAST == 0);
        let mut at = vec![0u32; self.stripes() + 1];
        for m in firsts.clone() {
            at[(*m & RECORD) as usize / stripe + 1] += 1;
        }
        for s in 1..at.len() {
            at[s] += at[s - 1];
        }
        self.by_stripe = at.clone();
        self.firsts = vec![0; firsts.count()];
        for (p, m) in members.iter().enumerate() {
            if m & LAST == 0 {
                let s = &mut at[(m & RECORD) as usize / stripe];
                self.firsts[*s as usize] = p as u32;
                *s += 1;
            }
        }
    }

    /// How many stripes `each_stripe` makes.
    pub fn stripes(&self) -> usize {
        (0..self.n).step_by(self.stripe()).len()
    }

    fn stripe(&self) -> usize {
        self.n.div_ceil((self.n >> 11).clamp(8, 128)).max(1)
    }

    /// The candidate pairs a stripe of first records at a time: on a worker thread
    /// `work(stripe, pairs)` (the stripe's pairs sorted, each once), then on this thread
    /// `take(stripe, lo, hi, what work made)`, stripe after stripe in order. The same
    /// pair comes from several rules: the pairs are made, sorted and deduped a stripe at
    /// a time, so the copies are never all held at once. One worker a core, each taking
    /// the next stripe as it finishes one (stripes differ in size: none waits for
    /// another's), its buffers reused.
    pub fn each_stripe<T: Send>(
        &self,
        work: impl Fn(usize, &[(u32, u32)]) -> T + Sync,
        mut take: impl FnMut(usize, usize, usize, T),
    ) {
        let (n, stripe) = (self.n, self.stripe());
        let stripes = self.stripes();
        let (members, work) = (&self.members, &work);
        let next = std::sync::atomic::AtomicUsize::new(0);
        let next = &next;
        let (done_tx, done_rx) = std::sync::mpsc::channel::<(usize, T)>();
        std::thread::scope(|scope| {
            for _ in 0..self.threads.min(stripes) {
                let done_tx = done_tx.clone();
                scope.spawn(move || {
                    let (mut raw, mut buf) = (Vec::with_capacity(1024), StripeBuf::default());
                    loop {
                        let s = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if s >= stripes {
                            break;
                        }
                        let from = self.by_stripe[s] as usize..self.by_stripe[s + 1] as usize;
                        let lo = s * stripe;
                        stripe_pairs(
                            members,
                            &self.firsts[from],
                            lo,
                            lo + stripe,
                            &mut raw,
                            &mut buf,
                        );
                        if done_tx.send((s, work(s, &raw))).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(done_tx);
            // In stripe order: a stripe finished early waits here for those before it.
            let mut early = std::collections::BTreeMap::new();
            let mut want = 0;
            for (s, made) in done_rx {
                early.insert(s, made);
                while let Some(made) = early.remove(&want) {
                    let lo = want * stripe;
                    take(want, lo, (lo + stripe).min(n), made);
                    want += 1;
                }
            }
        });
    }
}

/// The pairs whose first record is in `lo..hi`, sorted, each once, into `raw`, from
/// the positions in `members` of that stripe's first records (`firsts`). Within a
/// block the members are in index order, so a pair's first record is the earlier
/// member; a block larger than `MAX_BLOCK` pairs each member with its `WINDOW` next
/// ones only.
fn stripe_pairs(
    members: &[u32],
    firsts: &[u32],
    lo: usize,
    hi: usize,
    raw: &mut Vec<(u32, u32)>,
    buf: &mut StripeBuf,
) {
    let lo32 = lo as u32;
    raw.clear();
    for &p in firsts {
        let p = p as usize;
        let first = members[p];
        let a = first & RECORD;
        let reach = if first & BIG != 0 { WINDOW } else { usize::MAX };
        for &m in members[p + 1..].iter().take(reach) {
            raw.push((a, m & RECORD));
            if m & LAST != 0 {
                break;
            }
        }
    }
    // Sorted by first record in one counting pass (a stripe's first records are a
    // small range), then each record's few partners sorted and deduped: several times
    // quicker than sorting the stripe's pairs whole.
    let width = hi - lo;
    let (counts, seconds) = (&mut buf.counts, &mut buf.seconds);
    counts.clear();
    counts.resize(width + 1, 0);
    for &(a, _) in raw.iter() {
        counts[(a - lo32) as usize + 1] += 1;
    }
    for i in 1..=width {
        counts[i] += counts[i - 1];
    }
    seconds.clear();
    seconds.resize(raw.len(), 0);
    for &(a, b) in raw.iter() {
        let at = &mut counts[(a - lo32) as usize];
        seconds[*at as usize] = b;
        *at += 1;
    }
    // Each count is now where its record's partners end.
    raw.clear();
    let mut start = 0;
    for (a, &end) in (lo32..).zip(&counts[..width]) {
        let mine = &mut seconds[start..end as usize];
        start = end as usize;
        mine.sort_unstable();
        let mut last = None;
        for &b in mine.iter() {
            if last != Some(b) {
                raw.push((a, b));
                last = Some(b);
            }
        }
    }
}

/// A stripe thread's buffers for sorting its pairs, made once and reused.
#[derive(Default)]
struct StripeBuf {
    counts: Vec<u32>,
    seconds: Vec<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str, phone: Option<&str>, email: Option<&str>, address: &str) -> Record {
        Record::new(
            0,
            Some(name),
            None,
            phone,
            email,
            Some("Bonnyrigg"),
            Some(address).filter(|s| !s.is_empty()),
            None,
        )
    }

    fn blocked(a: &Record, b: &Record) -> bool {
        candidate_pairs(&[a.clone(), b.clone()]) == [(0, 1)]
    }

    #[test]
    fn a_typo_in_every_field_still_meets() {
        // The example: order swapped, a name typo, two digits swapped, an
        // address typo; nothing is equal but the city.
        let a = rec(
            "Caitlin Goode",
            Some("61404522895"),
            None,
            "72 yuranigh court",
        );
        let b = rec(
            "Goode Caitlni",
            Some("61404528295"),
            None,
            "72 yuranigh co urt",
        );
        assert!(blocked(&a, &b));
        let c = rec("Henry Collinson", Some("61404217909"), None, "");
        let d = rec("Henry Colinson", Some("61404213909"), None, "");
        assert!(blocked(&c, &d));
        let e = rec("Emily Carter", None, Some("emily.carter@gmial.com"), "");
        let f = rec("Emily Crater", None, Some("emily.carter@gmail.com"), "");
        assert!(blocked(&e, &f));
    }

    #[test]
    fn unrelated_records_are_not_compared() {
        let a = rec(
            "Caitlin Goode",
            Some("61404522895"),
            None,
            "72 yuranigh court",
        );
        let b = rec("Oscar Reed", Some("61299990000"), None, "5 george street");
        assert!(!blocked(&a, &b));
    }

    #[test]
    fn big_blocks_are_windowed() {
        let rs: Vec<Record> = (0..1000)
            .map(|i| rec("王伟", Some(&format!("86138{i:08}")), None, ""))
            .collect();
        let pairs = candidate_pairs(&rs);
        assert!(pairs.len() < 1000 * WINDOW * 2, "{}", pairs.len());
        assert!(pairs.len() >= 999);
    }

    /// The pairs made a stripe at a time from the blocks of two or more are exactly the
    /// pairs of the blocks' definition: every two records sharing a key, a big block's
    /// members only with their `WINDOW` neighbours in index order.
    #[test]
    fn striped_pairs_are_the_blocks_pairs() {
        let mut rs = crate::domain::matching::reference_population(1500);
        rs.extend((0..300).map(|i| rec("王伟", Some(&format!("86138{i:08}")), None, "")));
        // One pass at this size: a block is the records sharing a key's top half.
        let mut blocks: std::collections::HashMap<u64, Vec<u32>> = Default::default();
        for (i, r) in rs.iter().enumerate() {
            let mut ks = Vec::new();
            keys(&r.keys(), &mut ks);
            ks.iter_mut().for_each(|k| *k >>= 32);
            ks.sort_unstable();
            ks.dedup();
            for k in ks {
                blocks.entry(k).or_default().push(i as u32);
            }
        }
        let mut want = std::collections::BTreeSet::new();
        for b in blocks.values() {
            let reach = if b.len() <= MAX_BLOCK {
                b.len()
            } else {
                WINDOW + 1
            };
            for x in 0..b.len() {
                for y in x + 1..(x + reach).min(b.len()) {
                    want.insert((b[x], b[y]));
                }
            }
        }
        let got = candidate_pairs(&rs);
        assert!(got.windows(2).all(|w| w[0] < w[1]), "sorted, no copies");
        assert_eq!(got, want.into_iter().collect::<Vec<_>>());
        assert!(got.len() > rs.len());
    }

    /// The keys made in passes (one group of rules each, in one or more shares of the
    /// hash space) give the pairs of one pass over every key. (That every rule is in a
    /// group is what the tests of each rule's meeting check.)
    #[test]
    fn pairs_are_the_same_in_any_number_of_passes() {
        let mut rs = crate::domain::matching::reference_population(2_000);
        rs.extend((0..300).map(|i| rec("王伟", Some(&format!("86138{i:08}")), None, "")));
        let n = rs.len();
        // Two different keys with the same top half join their blocks in one pass and
        // not across passes: these records have none, so the pairs must be equal.
        let mut all: Vec<u64> = Vec::new();
        for r in &rs {
            keys(&r.keys(), &mut all);
        }
        all.sort_unstable();
        all.dedup();
        assert!(
            all.windows(2).all(|w| w[0] >> 32 != w[1] >> 32),
            "a top-half collision"
        );
        let one = pairs_of_blocks(n, &blocks_in(n, |i| rs[i].keys(), 2, 1));
        assert!(one.len() > n);
        for shares_needed in [2, 3, 4, 8] {
            let many = pairs_of_blocks(n, &blocks_in(n, |i| rs[i].keys(), 2, shares_needed));
            assert_eq!(many.starts, one.starts, "{shares_needed}");
            assert_eq!(many.seconds, one.seconds, "{shares_needed}");
        }
    }

    /// The keys sorted in lists on several cores and the stripes paired on several
    /// cores give exactly the pairs of one thread, for any number of threads (and
    /// enough records for several passes and stripes).
    #[test]
    fn pairs_are_the_same_on_any_number_of_threads() {
        let mut rs = crate::domain::matching::reference_population(70_000);
        rs.extend((0..300).map(|i| rec("王伟", Some(&format!("86138{i:08}")), None, "")));
        let one = candidate_pairs_on(rs.len(), |i| rs[i].keys(), 1);
        assert!(one.len() > rs.len());
        for threads in [2, 3, 8] {
            let many = candidate_pairs_on(rs.len(), |i| rs[i].keys(), threads);
            assert_eq!(many.starts, one.starts, "{threads} threads");
            assert_eq!(many.seconds, one.seconds, "{threads} threads");
        }
    }

    #[test]
    fn chinese_names_meet_by_sound() {
        // Nothing shared but the sound of the name (and the city every test record has).
        let a = rec("邱军文", Some("8613800000001"), None, "");
        let b = rec("邱君雯", Some("8613911112222"), None, "");
        assert!(blocked(&a, &b));
        let c = rec("潘晓斌", Some("8613800000001"), None, "");
        let d = rec("潘彬", Some("8613911112222"), None, "");
        assert!(blocked(&c, &d), "a dropped character");
    }

    #[test]
    fn deletions_on_the_stack_are_the_deletions() {
        let long = "x".repeat(70);
        for s in ["", "a", "emily", "云帆料技", "éa\u{301}b", long.as_str()] {
            let mut got = Vec::new();
            each_deletion(s, |d| got.push(d.to_string()));
            assert_eq!(got, deletions(s).collect::<Vec<_>>(), "{s}");
        }
    }

    #[test]
    fn joined_on_the_stack_is_join() {
        let long = "ab ".repeat(60);
        for text in [
            "",
            "a",
            "zhang xiao dong",
            "wang  wei",
            " x y ",
            long.as_str(),
            "张 伟 玮",
        ] {
            let parts: Vec<&str> = text.split(' ').collect();
            for skip in [0, 1, 2, usize::MAX] {
                let want: Vec<&str> = parts
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != skip)
                    .map(|(_, p)| *p)
                    .collect();
                let mut got = String::new();
                joined(text.split(' '), skip, "-", |j| got = j.to_string());
                assert_eq!(got, want.join("-"), "{text:?} {skip}");
            }
        }
    }

    #[test]
    fn deletions_meet_within_one_edit() {
        let d1: std::collections::HashSet<String> = deletions("云帆科技").collect();
        let d2: std::collections::HashSet<String> = deletions("云帆料技").collect();
        assert!(d1.intersection(&d2).next().is_some());
    }
}
