//! Deterministic demo data: realistic Chinese and English customers with a known share
//! of near-duplicates (the truth the dedupe benchmark scores against). Pure: no SQL.

/// splitmix64: small, fast, and the same sequence for a seed on every platform.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (0 when n is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            ((self.next_u64() as u128 * n as u128) >> 64) as u64
        }
    }

    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

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

pub(crate) const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "肖", "田", "董", "袁", "潘", "于", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁",
    "任", "沈", "姚", "卢", "姜", "崔", "钟", "谭", "陆", "汪", "范", "金", "石", "廖", "贾", "夏",
    "韦", "付", "方", "白", "邹", "孟", "熊", "秦", "邱", "江", "尹", "薛", "闫", "段", "雷", "侯",
    "龙", "史", "陶", "黎", "贺", "顾", "毛", "郝", "龚", "邵", "万", "钱", "严", "覃", "武", "戴",
    "莫", "孔", "欧阳", "司马",
];
pub(crate) const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "霞", "平", "刚", "桂", "英", "华", "玉", "萍", "红", "鹏", "辉", "飞", "建", "国",
    "文", "斌", "宇", "浩", "凯", "健", "俊", "帆", "帅", "旭", "宁", "龙", "林", "欣", "佳", "婷",
    "雪", "琳", "晶", "慧", "颖", "倩", "莉", "梅", "兰", "云", "峰", "波", "志", "海", "东", "亮",
    "晨", "阳", "博", "昊", "然", "轩", "睿", "泽", "子", "梓", "思", "雨", "若", "诗", "嘉", "怡",
    "晓", "春", "秋", "冬", "立", "新", "永", "德", "成", "振", "家", "荣", "正", "世", "光", "天",
    "清", "安", "和", "瑞",
];
/// Look-alike or sound-alike characters reps mistype (伟/玮, 华/化 …).
pub(crate) const SIMILAR: &[(&str, &str)] = &[
    ("伟", "玮"),
    ("华", "化"),
    ("丽", "莉"),
    ("明", "铭"),
    ("静", "婧"),
    ("杰", "洁"),
    ("军", "君"),
    ("芳", "方"),
    ("娜", "那"),
    ("涛", "韬"),
    ("辉", "晖"),
    ("峰", "锋"),
    ("云", "芸"),
    ("海", "凯"),
    ("科", "可"),
    ("贸", "茂"),
    ("电", "店"),
    ("信", "新"),
    ("达", "大"),
    ("通", "同"),
    ("源", "元"),
    ("创", "闯"),
    ("智", "志"),
    ("诚", "成"),
];
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
/// (city, province prefix of its addresses, districts)
pub(crate) const CITIES: &[(&str, &str, &[&str])] = &[
    ("北京", "北京市", &["朝阳区", "海淀区", "东城区", "丰台区"]),
    (
        "上海",
        "上海市",
        &["浦东新区", "徐汇区", "静安区", "闵行区"],
    ),
    ("广州", "广东省广州市", &["天河区", "越秀区", "海珠区"]),
    ("深圳", "广东省深圳市", &["南山区", "福田区", "宝安区"]),
    ("杭州", "浙江省杭州市", &["西湖区", "滨江区", "余杭区"]),
    ("成都", "四川省成都市", &["武侯区", "锦江区", "高新区"]),
    ("武汉", "湖北省武汉市", &["洪山区", "江汉区", "武昌区"]),
    ("南京", "江苏省南京市", &["鼓楼区", "玄武区", "江宁区"]),
    ("苏州", "江苏省苏州市", &["工业园区", "姑苏区", "吴中区"]),
    ("西安", "陕西省西安市", &["雁塔区", "碑林区", "未央区"]),
    ("重庆", "重庆市", &["渝中区", "江北区", "南岸区"]),
    ("天津", "天津市", &["和平区", "南开区", "河西区"]),
    ("长沙", "湖南省长沙市", &["岳麓区", "芙蓉区", "天心区"]),
    ("郑州", "河南省郑州市", &["金水区", "中原区", "二七区"]),
    ("青岛", "山东省青岛市", &["市南区", "崂山区", "黄岛区"]),
    ("厦门", "福建省厦门市", &["思明区", "湖里区", "集美区"]),
];
const FOREIGN_CITIES: &[(&str, &str, &str)] = &[
    ("Singapore", "Orchard Road", "+65"),
    ("London", "Baker Street", "+44 20"),
    ("San Francisco", "Market Street", "+1 415"),
];
pub(crate) const STREETS: &[&str] = &[
    "文三路",
    "人民路",
    "解放路",
    "中山路",
    "建设路",
    "学院路",
    "长江路",
    "科技园路",
    "新华路",
    "和平路",
];
pub(crate) const SYLLABLES: &[&str] = &[
    "云", "帆", "明", "远", "华", "创", "天", "宇", "星", "辰", "博", "瑞", "汇", "通", "达", "信",
    "诚", "智", "源", "腾", "飞", "鸿", "盛", "嘉", "恒", "泰", "安", "康", "新", "锐", "启", "航",
    "中", "正", "金", "银", "海", "山", "青", "蓝",
];
pub(crate) const INDUSTRIES: &[&str] = &[
    "科技",
    "网络",
    "贸易",
    "电子",
    "医疗器械",
    "教育咨询",
    "食品",
    "物流",
    "建材",
    "软件",
    "机械",
    "生物",
    "文化传媒",
    "新能源",
    "化工",
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
pub(crate) const MAIL: &[&str] = &[
    "qq.com",
    "163.com",
    "126.com",
    "gmail.com",
    "outlook.com",
    "sina.com",
];
pub(crate) const PINYIN: &[&str] = &[
    "wang", "li", "zhang", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou", "xu", "sun", "ma",
    "zhu", "hu", "guo",
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
