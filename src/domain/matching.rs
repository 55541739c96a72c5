//! Finding the same customer under different spellings. Pure: records in, clusters out.
//!
//! 1. Blocking: every record emits a few keys (phone, e-mail, name+company, single-
//!    character deletions of the company, name tokens in any order, name+address …).
//!    Only records sharing a key are compared, so the work stays near-linear; a block
//!    larger than `MAX_BLOCK` is compared with its neighbours only (sorted neighbourhood).
//! 2. Scoring: exact phone/e-mail agreement, Jaro-Winkler and edit distance on names,
//!    companies and addresses, penalties for conflicting contacts; each pair keeps the
//!    reasons behind its score.
//! 3. Clustering: pairs at or above the threshold are joined (union-find).
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use strsim::{jaro_winkler, levenshtein};

pub const DEFAULT_THRESHOLD: f64 = 0.85;
/// Blocks up to this size are compared all-pairs; larger ones by sorted neighbourhood.
pub const MAX_BLOCK: usize = 40;
const WINDOW: usize = 6;

/// One customer as the matcher sees it: normalised keys only.
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub id: i64,
    /// name_key (NFKC, lower-case, no spaces or punctuation)
    pub name: String,
    /// name tokens sorted (so "Carter Emily" = "Emily Carter"), joined without spaces
    pub name_sorted: String,
    /// company_key (legal suffixes removed)
    pub company: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub city: String,
    /// name_key of the address
    pub address: String,
    pub owner: Option<String>,
    pub label: String,
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
            name: name_k,
            company: company.map(company_key).unwrap_or_default(),
            phone: phone_key.map(String::from),
            email: email_key.map(String::from),
            city: city.map(name_key).unwrap_or_default(),
            address: address.map(name_key).unwrap_or_default(),
            owner,
            label: match (name, company) {
                (Some(n), Some(c)) => format!("{n} / {c}"),
                (Some(n), None) => n.to_string(),
                (None, Some(c)) => c.to_string(),
                (None, None) => format!("#{id}"),
            },
        }
    }
}

impl Record {
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

#[derive(Debug, Clone)]
pub struct Cluster {
    /// Indexes into the records, oldest id first.
    pub members: Vec<usize>,
    /// The weakest link that joined the cluster.
    pub score: f64,
    pub reasons: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Found {
    pub candidate_pairs: usize,
    pub clusters: Vec<Cluster>,
}

fn h(parts: &[&str]) -> u64 {
    let mut s = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut s);
    s.finish()
}

fn chars(s: &str) -> Vec<char> {
    s.chars().collect()
}

/// Every string with one character removed (symmetric-deletion blocking: two strings
/// within one edit share at least one of these).
fn deletions(s: &str) -> Vec<String> {
    let c = chars(s);
    (0..c.len())
        .map(|i| {
            c.iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, ch)| *ch)
                .collect()
        })
        .collect()
}

fn prefix(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// The blocking keys of one record.
fn keys(r: &Record, out: &mut Vec<u64>) {
    if let Some(p) = &r.phone {
        out.push(h(&["p", p]));
    }
    if let Some(e) = &r.email {
        out.push(h(&["e", e]));
    }
    let nlen = r.name.chars().count();
    let clen = r.company.chars().count();
    if nlen > 0 && clen > 0 {
        out.push(h(&["nc", &r.name, &r.company]));
    }
    if clen >= 4 {
        out.push(h(&["c", &r.company]));
        if clen <= 16 {
            for d in deletions(&r.company) {
                out.push(h(&["c", &d]));
            }
        }
    }
    if !r.name_sorted.is_empty() {
        out.push(h(&["ns", &r.name_sorted, &r.city]));
    }
    if nlen > 0 && !r.address.is_empty() {
        let a = prefix(&r.address, 8);
        out.push(h(&["na", &r.name, &a]));
        if nlen <= 8 {
            for d in deletions(&r.name) {
                out.push(h(&["na", &d, &a]));
            }
        }
    }
}

/// Similarity of two keys in [0, 1]; None when either is empty. Edit distance based
/// (Jaro-Winkler rewards shared prefixes too much: 杭州云帆科技 vs 杭州云帆电子); a single
/// typo in a key of three or more characters (two for Chinese) still reads as 0.9.
pub fn similarity(a: &str, b: &str) -> Option<f64> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    if a == b {
        return Some(1.0);
    }
    let la = a.chars().count();
    let lb = b.chars().count();
    let d = levenshtein(a, b);
    let mut s = 1.0 - d as f64 / la.max(lb) as f64;
    let cjk = a.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    let min_len = if cjk { 2 } else { 4 };
    if d == 1 && la.min(lb) >= min_len {
        s = s.max(0.9);
    }
    // Latin names: Jaro-Winkler helps with transposed letters, but only when close.
    if !cjk {
        let jw = jaro_winkler(a, b);
        if jw >= 0.97 {
            s = s.max(jw - 0.05);
        }
    }
    Some(s)
}

/// Chinese names: the family name (first character) must agree; a different one is a
/// different person, not a typo (卢红 / 蒋红).
pub fn name_similarity(a: &str, b: &str) -> Option<f64> {
    let s = similarity(a, b)?;
    let (fa, fb) = (a.chars().next(), b.chars().next());
    let cjk = |c: Option<char>| c.is_some_and(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    if cjk(fa) && cjk(fb) && fa != fb {
        return Some(s.min(0.6));
    }
    Some(s)
}

/// Addresses: the house numbers must agree; the rest may be spelled differently.
pub fn address_similarity(a: &str, b: &str) -> Option<f64> {
    let s = similarity(a, b)?;
    let nums = |x: &str| -> Vec<String> {
        x.split(|c: char| !c.is_ascii_digit())
            .filter(|n| !n.is_empty())
            .map(String::from)
            .collect()
    };
    let (na, nb) = (nums(a), nums(b));
    if !na.is_empty() && !nb.is_empty() && na != nb {
        return Some(s.min(0.5));
    }
    Some(s)
}

/// The score of a pair and why.
pub fn score(a: &Record, b: &Record) -> (f64, Vec<String>) {
    score_with(a, b, true)
}

/// The score alone (the scan scores millions of pairs; reasons are written only for the
/// pairs that make it into a cluster).
pub fn score_only(a: &Record, b: &Record) -> f64 {
    score_with(a, b, false).0
}

fn score_with(a: &Record, b: &Record, explain: bool) -> (f64, Vec<String>) {
    let mut reasons = Vec::new();
    let phone_eq = a.phone.is_some() && a.phone == b.phone;
    let email_eq = a.email.is_some() && a.email == b.email;
    let phone_diff = a.phone.is_some() && b.phone.is_some() && !phone_eq;
    let email_diff = a.email.is_some() && b.email.is_some() && !email_eq;
    let name = match (
        name_similarity(&a.name, &b.name),
        similarity(&a.name_sorted, &b.name_sorted),
    ) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    };
    let company = similarity(&a.company, &b.company);
    let address = address_similarity(&a.address, &b.address);
    let city_diff = !a.city.is_empty() && !b.city.is_empty() && a.city != b.city;

    if phone_eq || email_eq {
        if phone_eq && explain {
            reasons.push("same phone".to_string());
        }
        if email_eq && explain {
            reasons.push("same email".to_string());
        }
        let mut s: f64 = if phone_eq && email_eq { 0.99 } else { 0.95 };
        let name_ok = name.is_none_or(|n| n >= 0.6);
        let company_ok = company.is_none_or(|c| c >= 0.6);
        if !name_ok && !company_ok {
            // A shared switchboard or family phone: not the same customer by itself.
            s = 0.6;
            if explain {
                reasons.push("but different name and company".into());
            }
        } else if !name_ok {
            s -= 0.15;
            if explain {
                reasons.push("but a different name".into());
            }
        }
        if phone_diff || email_diff {
            s -= 0.05;
        }
        return (s, reasons);
    }

    // No shared contact: names and companies/addresses must carry it.
    let Some(n) = name else {
        return (0.0, reasons);
    };
    let mut parts: Vec<(f64, f64, &str)> = vec![(0.45, n, "name")];
    if let Some(c) = company {
        parts.push((0.35, c, "company"));
    }
    if let Some(ad) = address {
        parts.push((0.2, ad, "address"));
    }
    if parts.len() < 2 {
        return (0.0, reasons);
    }
    let total: f64 = parts.iter().map(|(w, _, _)| w).sum();
    let mut s: f64 = parts.iter().map(|(w, v, _)| w * v).sum::<f64>() / total;
    for (_, v, what) in &parts {
        if *v >= 1.0 {
            if explain {
                reasons.push(format!("same {what}"));
            }
        } else if *v >= 0.85 && explain {
            reasons.push(format!("similar {what} ({v:.2})"));
        }
    }
    // Every part must agree; one weak part vetoes, and two fuzzy parts (a typo in the
    // name and another in the company) are two coincidences too many without a contact.
    if parts.iter().any(|(_, v, _)| *v < 0.85) {
        s = s.min(0.7);
    }
    if parts.iter().filter(|(_, v, _)| *v < 1.0).count() > 1 {
        s = s.min(0.8);
    }
    // A different phone or e-mail is strong evidence of a different person: people
    // rarely change them, and a re-typed one has the same key.
    if phone_diff && email_diff {
        s -= 0.5;
        if explain {
            reasons.push("different phone and email".into());
        }
    } else if phone_diff || email_diff {
        s -= 0.25;
        if explain {
            reasons.push(format!(
                "different {}",
                if phone_diff { "phone" } else { "email" }
            ));
        }
    }
    if city_diff {
        s -= 0.2;
        if explain {
            reasons.push("different city".into());
        }
    }
    (s.max(0.0), reasons)
}

fn find_root(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}

/// Candidate pairs from the blocks, each once, as (smaller index, larger index).
pub fn candidate_pairs(records: &[Record]) -> Vec<(u32, u32)> {
    let mut keyed: Vec<(u64, u32)> = Vec::with_capacity(records.len() * 6);
    let mut buf = Vec::new();
    for (i, r) in records.iter().enumerate() {
        buf.clear();
        keys(r, &mut buf);
        buf.sort_unstable();
        buf.dedup();
        keyed.extend(buf.iter().map(|k| (*k, i as u32)));
    }
    keyed.sort_unstable();
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    let mut start = 0;
    while start < keyed.len() {
        let mut end = start + 1;
        while end < keyed.len() && keyed[end].0 == keyed[start].0 {
            end += 1;
        }
        let block = &keyed[start..end];
        if block.len() <= MAX_BLOCK {
            for x in 0..block.len() {
                for y in x + 1..block.len() {
                    pairs.push((block[x].1, block[y].1));
                }
            }
        } else {
            for x in 0..block.len() {
                for y in x + 1..(x + 1 + WINDOW).min(block.len()) {
                    pairs.push((block[x].1, block[y].1));
                }
            }
        }
        start = end;
    }
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

/// Scores the candidate pairs and clusters those at or above `threshold`.
pub fn find(records: &[Record], threshold: f64) -> Found {
    let pairs = candidate_pairs(records);
    // Score on every core: the pairs are independent.
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let chunk = pairs.len().div_ceil(threads).max(1);
    let hits: Vec<(u32, u32, f64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = pairs
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .filter_map(|&(a, b)| {
                            let s = score_only(&records[a as usize], &records[b as usize]);
                            (s >= threshold).then_some((a, b, s))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut parent: Vec<usize> = (0..records.len()).collect();
    for &(a, b, _) in &hits {
        let (ra, rb) = (
            find_root(&mut parent, a as usize),
            find_root(&mut parent, b as usize),
        );
        if ra != rb {
            parent[ra.max(rb)] = ra.min(rb);
        }
    }
    let mut groups: HashMap<usize, Cluster> = HashMap::new();
    for (a, b, s) in hits {
        let root = find_root(&mut parent, a as usize);
        let c = groups.entry(root).or_insert_with(|| Cluster {
            members: Vec::new(),
            score: 1.0,
            reasons: Vec::new(),
        });
        c.score = c.score.min(s);
        for w in score(&records[a as usize], &records[b as usize]).1 {
            if !c.reasons.contains(&w) {
                c.reasons.push(w);
            }
        }
    }
    for i in 0..records.len() {
        let root = find_root(&mut parent, i);
        if let Some(c) = groups.get_mut(&root) {
            c.members.push(i);
        }
    }
    let mut clusters: Vec<Cluster> = groups
        .into_values()
        .filter(|c| c.members.len() > 1)
        .collect();
    for c in &mut clusters {
        c.members.sort_by_key(|i| records[*i].id);
    }
    clusters.sort_by_key(|c| records[c.members[0]].id);
    Found {
        candidate_pairs: pairs.len(),
        clusters,
    }
}

/// Pairwise precision, recall and F1 of found clusters against true cluster labels.
pub fn evaluate(truth: &[u64], clusters: &[Cluster]) -> (f64, f64, f64) {
    let mut true_pairs: u64 = 0;
    let mut sizes: HashMap<u64, u64> = HashMap::new();
    for t in truth {
        *sizes.entry(*t).or_default() += 1;
    }
    for n in sizes.values() {
        true_pairs += n * (n - 1) / 2;
    }
    let (mut found, mut correct) = (0u64, 0u64);
    for c in clusters {
        let n = c.members.len() as u64;
        found += n * (n - 1) / 2;
        let mut by_truth: HashMap<u64, u64> = HashMap::new();
        for m in &c.members {
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
            Some(city),
            Some(address).filter(|s| !s.is_empty()),
            None,
        )
    }

    #[test]
    fn same_phone_is_a_duplicate_with_its_reason() {
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
        let (s, why) = score(&a, &b);
        assert!(s >= DEFAULT_THRESHOLD, "{s}");
        assert!(why.contains(&"same phone".to_string()));
    }

    #[test]
    fn shared_switchboard_is_not_enough() {
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
        assert!(score(&a, &b).0 < DEFAULT_THRESHOLD);
    }

    #[test]
    fn typos_and_swapped_names_without_contacts() {
        let a = rec(
            1,
            "张伟",
            "杭州云帆科技有限公司",
            None,
            None,
            "杭州",
            "浙江省杭州市西湖区文三路90号",
        );
        let b = rec(
            2,
            "张玮",
            "杭州云帆科技",
            None,
            None,
            "杭州",
            "浙江省杭州市西湖区文三路90号",
        );
        assert!(score(&a, &b).0 >= DEFAULT_THRESHOLD, "{:?}", score(&a, &b));
        let e1 = rec(
            3,
            "Emily Carter",
            "Northwind Trading Co., Ltd.",
            None,
            None,
            "London",
            "",
        );
        let e2 = rec(
            4,
            "Carter Emily",
            "Northwind Trading Ltd",
            None,
            None,
            "London",
            "",
        );
        assert!(
            score(&e1, &e2).0 >= DEFAULT_THRESHOLD,
            "{:?}",
            score(&e1, &e2)
        );
    }

    #[test]
    fn name_and_address_only_records_still_match() {
        let a = rec(
            1,
            "王芳",
            "",
            None,
            None,
            "上海",
            "上海市浦东新区世纪大道100号",
        );
        let b = rec(
            2,
            "王芳",
            "",
            None,
            None,
            "上海",
            "上海市浦东新区世纪大道100",
        );
        assert!(score(&a, &b).0 >= DEFAULT_THRESHOLD, "{:?}", score(&a, &b));
    }

    #[test]
    fn different_people_at_one_company_are_not_merged() {
        let a = rec(
            1,
            "张伟",
            "云帆科技",
            Some("8613800000001"),
            None,
            "杭州",
            "",
        );
        let b = rec(
            2,
            "李娜",
            "云帆科技",
            Some("8613800000002"),
            None,
            "杭州",
            "",
        );
        assert!(score(&a, &b).0 < DEFAULT_THRESHOLD);
        let c = rec(3, "张伟", "明远贸易", None, None, "杭州", "");
        let d = rec(4, "张伟", "华创电子", None, None, "杭州", "");
        assert!(score(&c, &d).0 < DEFAULT_THRESHOLD);
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
                None,
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
        assert_eq!(f.clusters.len(), 1);
        assert_eq!(f.clusters[0].members, [0, 1, 2]);
        let (p, r, f1) = evaluate(&[1, 1, 1, 4], &f.clusters);
        assert_eq!((p, r, f1), (1.0, 1.0, 1.0));
        let (p, r, _) = evaluate(&[1, 1, 3, 4], &f.clusters);
        assert!((p - 1.0 / 3.0).abs() < 1e-9 && r == 1.0);
    }

    #[test]
    fn deletion_blocking_finds_one_edit_apart() {
        let d1: std::collections::HashSet<String> = deletions("云帆科技").into_iter().collect();
        let d2: std::collections::HashSet<String> = deletions("云帆料技").into_iter().collect();
        assert!(d1.intersection(&d2).next().is_some());
    }
}
