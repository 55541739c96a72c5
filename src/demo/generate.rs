//! Deterministic demo customers: realistic Chinese and English ones with a known share
//! of near-duplicates (the truth the dedupe benchmark scores against). Pure: no SQL.
use crate::domain::synthetic::{
    Rng, CITIES, GIVEN, INDUSTRIES, MAIL, PINYIN, SIMILAR, STREETS, SURNAMES, SYLLABLES,
};

#[derive(Debug, Clone, PartialEq)]
pub struct DemoCustomer {
    pub name: String,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub city: String,
    pub address: Option<String>,
    pub source: String,
    pub tags: Vec<String>,
    pub notes: Option<String>,
    pub stage: &'static str,
    /// Ground truth: the index of the original this record duplicates (its own index
    /// for an original).
    pub cluster: u64,
}

const FIRST: &[&str] = &[
    "Emily",
    "James",
    "Olivia",
    "Liam",
    "Sophia",
    "Noah",
    "Ava",
    "Lucas",
    "Mia",
    "Ethan",
    "Grace",
    "Daniel",
    "Chloe",
    "Henry",
    "Zoe",
    "Jack",
    "Lily",
    "Ryan",
    "Hannah",
    "Owen",
    "Amelia",
    "Benjamin",
    "Charlotte",
    "David",
    "Ella",
    "Felix",
    "Georgia",
    "Isaac",
    "Julia",
    "Kevin",
    "Laura",
    "Martin",
    "Nora",
    "Oscar",
    "Paula",
    "Quinn",
    "Rachel",
    "Samuel",
    "Tessa",
    "Victor",
];

const LAST: &[&str] = &[
    "Carter",
    "Smith",
    "Brown",
    "Wilson",
    "Taylor",
    "Clark",
    "Lewis",
    "Walker",
    "Hall",
    "Young",
    "King",
    "Wright",
    "Green",
    "Baker",
    "Adams",
    "Nelson",
    "Hill",
    "Campbell",
    "Mitchell",
    "Roberts",
    "Turner",
    "Phillips",
    "Parker",
    "Evans",
    "Edwards",
    "Collins",
    "Stewart",
    "Morris",
    "Rogers",
    "Reed",
    "Cook",
    "Morgan",
    "Bell",
    "Murphy",
    "Bailey",
    "Rivera",
    "Cooper",
    "Richardson",
    "Cox",
    "Howard",
];

const INITIALS: &str = "ABCDEFGHJKLMNPRSTW";

const FOREIGN_CITIES: &[(&str, &str, &str)] = &[
    ("Singapore", "Orchard Road", "+65"),
    ("London", "Baker Street", "+44 20"),
    ("San Francisco", "Market Street", "+1 415"),
];

const CN_SUFFIX: &[&str] = &[
    "有限公司",
    "有限公司",
    "有限公司",
    "股份有限公司",
    "有限责任公司",
];

const EN_WORDS: &[&str] = &[
    "Northwind",
    "Blue Harbor",
    "Evergreen",
    "Silverline",
    "Redwood",
    "Brightpath",
    "Summit",
    "Oakmont",
    "Pacific",
    "Granite",
    "Lakeside",
    "Ironbridge",
    "Sunrise",
    "Westfield",
    "Kingsway",
    "Maple",
    "Harbor",
    "Crescent",
    "Falcon",
    "Cedar",
    "Atlas",
    "Beacon",
    "Meridian",
    "Highland",
];

const EN_MID: &[&str] = &[
    "Global", "United", "Star", "First", "Prime", "Coastal", "Metro", "Golden", "Allied", "Vista",
];

const EN_KIND: &[&str] = &[
    "Trading",
    "Logistics",
    "Software",
    "Foods",
    "Medical",
    "Consulting",
    "Systems",
    "Energy",
    "Textiles",
    "Robotics",
    "Analytics",
    "Partners",
];

const EN_SUFFIX: &[&str] = &["Co., Ltd.", "Ltd", "Inc.", "LLC", "Limited"];

const SOURCES: &[&str] = &[
    "展会",
    "官网",
    "转介绍",
    "电话营销",
    "广告",
    "微信",
    "LinkedIn",
    "百度推广",
    "老客户推荐",
];

const TAGS: &[&str] = &[
    "VIP",
    "意向强",
    "教育",
    "制造业",
    "零售",
    "SaaS",
    "医疗",
    "金融",
    "跨境",
    "政府",
];

const NOTES: &[&str] = &[
    "对报价敏感，下周再联系",
    "需要先做技术演示",
    "预算在Q1审批",
    "老板亲自决策",
    "已发送产品资料",
    "Asked for a trial account",
    "竞品在跟进，需要加快",
];

/// A mobile number unique to an original: the index scrambled by an odd multiplier
/// (a bijection on 0..10^9), so no two originals share a phone.
fn mobile(i: u64) -> String {
    const M: u64 = 1_000_000_000;
    let x = ((i % M).wrapping_mul(387_420_489) + 123_456_789) % M;
    let prefix = ["13", "15", "18", "17", "19"][(i / M % 5) as usize];
    format!("{prefix}{x:09}")
}

/// The phone as people type it.
fn typed_phone(rng: &mut Rng, digits: &str) -> String {
    match rng.below(6) {
        0 => format!("{}-{}-{}", &digits[..3], &digits[3..7], &digits[7..]),
        1 => format!("+86 {} {} {}", &digits[..3], &digits[3..7], &digits[7..]),
        _ => digits.to_string(),
    }
}

fn original(rng: &mut Rng, i: u64) -> DemoCustomer {
    let english = rng.chance(0.25);
    let (city, address) = if english && rng.chance(0.5) {
        let (c, street, _) = *rng.pick(FOREIGN_CITIES);
        (
            c.to_string(),
            format!("{} {street}, {c}", 1 + rng.below(300)),
        )
    } else {
        let (c, prov, districts) = *rng.pick(CITIES);
        (
            c.to_string(),
            format!(
                "{prov}{}{}{}号",
                rng.pick(districts),
                rng.pick(STREETS),
                1 + rng.below(999)
            ),
        )
    };
    let (name, email) = if english {
        let (f, l) = (*rng.pick(FIRST), *rng.pick(LAST));
        let initial = INITIALS.as_bytes()[rng.below(INITIALS.len() as u64) as usize] as char;
        (
            format!("{f} {initial}. {l}"),
            format!(
                "{}.{}{}@{}",
                f.to_lowercase(),
                l.to_lowercase(),
                i,
                ["gmail.com", "outlook.com", "company.com"][rng.below(3) as usize]
            ),
        )
    } else {
        let sur = *rng.pick(SURNAMES);
        let given: String = if rng.chance(0.6) {
            format!("{}{}", rng.pick(GIVEN), rng.pick(GIVEN))
        } else {
            rng.pick(GIVEN).to_string()
        };
        (
            format!("{sur}{given}"),
            format!("{}{}@{}", rng.pick(PINYIN), i, rng.pick(MAIL)),
        )
    };
    let company = if rng.chance(0.9) {
        Some(if english {
            format!(
                "{} {} {} {}",
                rng.pick(EN_WORDS),
                rng.pick(EN_MID),
                rng.pick(EN_KIND),
                rng.pick(EN_SUFFIX)
            )
        } else {
            format!(
                "{}{}{}{}{}",
                city,
                rng.pick(SYLLABLES),
                rng.pick(SYLLABLES),
                rng.pick(INDUSTRIES),
                rng.pick(CN_SUFFIX)
            )
        })
    } else {
        None
    };
    let phone = if rng.chance(0.85) {
        Some(if english && rng.chance(0.5) {
            let (_, _, cc) = *rng.pick(FOREIGN_CITIES);
            format!("{cc} {:03} {:04}", i / 10_000 % 1_000, i % 10_000)
        } else if rng.chance(0.1) {
            format!("0{}-{}", 10 + rng.below(890), 80_000_000 + i % 10_000_000)
        } else {
            typed_phone(rng, &mobile(i))
        })
    } else {
        None
    };
    let has_email = rng.chance(0.7) || phone.is_none();
    let stage = match rng.below(100) {
        0..=69 => "lead",
        70..=89 => "customer",
        90..=94 => "loyal",
        _ => "churned",
    };
    let ntags = rng.below(4) as usize;
    let mut tags: Vec<String> = Vec::new();
    for _ in 0..ntags {
        let t = rng.pick(TAGS).to_string();
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    DemoCustomer {
        name,
        company,
        phone,
        email: if has_email { Some(email) } else { None },
        city,
        address: if rng.chance(0.6) { Some(address) } else { None },
        source: rng.pick(SOURCES).to_string(),
        tags,
        notes: if rng.chance(0.3) {
            Some(rng.pick(NOTES).to_string())
        } else {
            None
        },
        stage,
        cluster: i,
    }
}

/// One character replaced by a look-alike, or dropped, or doubled.
fn typo(rng: &mut Rng, s: &str) -> String {
    for (a, b) in SIMILAR {
        if s.contains(a) && rng.chance(0.7) {
            return s.replacen(a, b, 1);
        }
    }
    let chars: Vec<char> = s.chars().collect();
    if chars.len() < 3 {
        return s.to_string();
    }
    let at = 1 + rng.below(chars.len() as u64 - 1) as usize;
    let mut out: Vec<char> = chars.clone();
    if rng.chance(0.5) {
        out.remove(at);
    } else {
        out.insert(at, chars[at - 1]);
    }
    out.into_iter().collect()
}

fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap_or(c)
            } else {
                c
            }
        })
        .collect()
}

/// A near-duplicate of `o`: one or two of the variations reps and forms produce.
fn variant(rng: &mut Rng, o: &DemoCustomer) -> DemoCustomer {
    let mut d = o.clone();
    let n = 1 + rng.below(2);
    for _ in 0..n {
        match rng.below(8) {
            0 => {
                if let Some(p) = &d.phone {
                    let digits: String = p.chars().filter(|c| c.is_ascii_digit()).collect();
                    d.phone = Some(match rng.below(3) {
                        0 => full_width(&digits),
                        1 if digits.len() == 11 => {
                            format!("+86 {}-{}-{}", &digits[..3], &digits[3..7], &digits[7..])
                        }
                        _ => digits.clone(),
                    });
                }
            }
            1 => {
                d.email = d.email.as_ref().map(|e| {
                    if rng.chance(0.5) {
                        e.to_uppercase()
                    } else {
                        capitalise(e)
                    }
                })
            }
            2 => {
                d.company = d.company.as_ref().map(|c| {
                    for (a, b) in [
                        ("股份有限公司", "有限公司"),
                        ("有限责任公司", ""),
                        ("有限公司", ""),
                        ("Co., Ltd.", "Ltd"),
                        ("Inc.", ""),
                        ("LLC", ""),
                    ] {
                        if c.ends_with(a) {
                            return format!("{}{b}", &c[..c.len() - a.len()]).trim().to_string();
                        }
                    }
                    c.clone()
                })
            }
            3 => d.name = typo(rng, &d.name),
            4 => d.company = d.company.as_ref().map(|c| typo(rng, c)),
            5 => {
                if d.name.contains(' ') {
                    // Family name first, as Chinese forms ask: "Carter Emily J."
                    let parts: Vec<&str> = d.name.split(' ').collect();
                    d.name = format!(
                        "{} {}",
                        parts[parts.len() - 1],
                        parts[..parts.len() - 1].join(" ")
                    );
                } else {
                    d.name = typo(rng, &d.name);
                }
            }
            6 => {
                // One contact lost, never both: the rest must still identify it.
                if d.phone.is_some() && d.email.is_some() {
                    if rng.chance(0.5) {
                        d.phone = None;
                    } else {
                        d.email = None;
                    }
                    if d.address.is_none() && d.company.is_none() {
                        d.address = o.address.clone();
                    }
                }
            }
            _ => {
                d.address = d.address.as_ref().map(|a| {
                    if rng.chance(0.5) {
                        a.trim_end_matches('号').to_string()
                    } else {
                        a.replace("区", "区 ")
                    }
                })
            }
        }
    }
    d.source = rng.pick(SOURCES).to_string();
    d.notes = None;
    d
}

fn capitalise(e: &str) -> String {
    let mut c = e.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// `n` customers for `seed`; about `dup_rate` of them near-duplicates of a recent
/// original. An iterator: a million records never sit in memory at once.
pub fn generate(seed: u64, n: u64, dup_rate: f64) -> impl Iterator<Item = DemoCustomer> {
    let mut rng = Rng::new(seed);
    // Recent originals, so duplicates arrive near their original (like a week of leads).
    let mut recent: Vec<DemoCustomer> = Vec::with_capacity(1024);
    (0..n).map(move |i| {
        if !recent.is_empty() && rng.chance(dup_rate) {
            let k = rng.below(recent.len() as u64) as usize;
            return variant(&mut rng, &recent[k]);
        }
        let o = original(&mut rng, i);
        if recent.len() < 1024 {
            recent.push(o.clone());
        } else {
            let k = rng.below(1024) as usize;
            recent[k] = o.clone();
        }
        o
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn same_seed_same_data() {
        let a: Vec<DemoCustomer> = generate(42, 500, 0.1).collect();
        let b: Vec<DemoCustomer> = generate(42, 500, 0.1).collect();
        assert_eq!(a, b);
        let c: Vec<DemoCustomer> = generate(43, 500, 0.1).collect();
        assert_ne!(a, c);
    }

    #[test]
    fn the_first_record_is_stable() {
        let first = generate(42, 1, 0.1).next().unwrap();
        assert_eq!(first.cluster, 0);
        // Recorded once: a change here changes every benchmark and demo.
        assert_eq!(format!("{} / {:?}", first.name, first.phone), FIRST_FOR_42);
    }

    const FIRST_FOR_42: &str = "毛晓斌 / Some(\"131-2345-6789\")";

    #[test]
    fn duplicate_share_and_unique_original_phones() {
        let all: Vec<DemoCustomer> = generate(7, 20_000, 0.1).collect();
        let dups = all
            .iter()
            .enumerate()
            .filter(|(i, d)| d.cluster != *i as u64)
            .count();
        assert!((1_600..2_400).contains(&dups), "{dups}");
        let mut phones = HashSet::new();
        for (i, d) in all.iter().enumerate() {
            if d.cluster == i as u64 {
                if let Some(p) = &d.phone {
                    let digits: String = p.chars().filter(|c| c.is_ascii_digit()).collect();
                    assert!(phones.insert(digits), "{p}");
                }
            }
        }
    }

    #[test]
    fn originals_are_valid_customers() {
        for d in generate(1, 2_000, 0.1) {
            let input = crate::domain::customer::CustomerInput {
                name: Some(d.name.clone()),
                company: d.company.clone(),
                phone: d.phone.clone(),
                email: d.email.clone(),
                ..Default::default()
            };
            assert!(
                crate::domain::customer::validate(&input, true).is_ok(),
                "{d:?}"
            );
            assert!(d.phone.is_some() || d.email.is_some(), "{d:?}");
        }
    }
}
