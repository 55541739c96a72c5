//! Column headers of imported files: English and Chinese aliases for the customer
//! fields, case- and space-insensitive; anything else is kept as a custom field.

/// A customer field an import column can fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Name,
    Company,
    Phone,
    Email,
    City,
    Address,
    Source,
    Stage,
    Tags,
    Notes,
    Level,
    Industry,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Company => "company",
            Field::Phone => "phone",
            Field::Email => "email",
            Field::City => "city",
            Field::Address => "address",
            Field::Source => "source",
            Field::Stage => "stage",
            Field::Tags => "tags",
            Field::Notes => "notes",
            Field::Level => "level",
            Field::Industry => "industry",
        }
    }
}

/// What one column of the file becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Field(Field),
    /// Kept in the customer's custom fields under this name.
    Custom(String),
    /// Bookkeeping columns of `pool export` (id, owner, pool, timestamps): not imported.
    Ignore,
}

const ALIASES: &[(Field, &[&str])] = &[
    (
        Field::Name,
        &[
            "name",
            "contact",
            "contactname",
            "fullname",
            "姓名",
            "客户名称",
            "客户姓名",
            "联系人",
            "名字",
            "客户",
        ],
    ),
    (
        Field::Company,
        &[
            "company",
            "companyname",
            "organization",
            "organisation",
            "account",
            "公司",
            "单位",
            "公司名称",
            "企业名称",
            "企业",
        ],
    ),
    (
        Field::Phone,
        &[
            "phone",
            "mobile",
            "tel",
            "telephone",
            "cell",
            "phonenumber",
            "电话",
            "手机",
            "手机号",
            "手机号码",
            "联系电话",
            "电话号码",
        ],
    ),
    (
        Field::Email,
        &[
            "email",
            "e-mail",
            "mail",
            "emailaddress",
            "邮箱",
            "电子邮件",
            "电子邮箱",
            "邮件",
        ],
    ),
    (Field::City, &["city", "城市", "所在城市"]),
    (
        Field::Address,
        &["address", "addr", "street", "地址", "详细地址", "通讯地址"],
    ),
    (
        Field::Source,
        &[
            "source",
            "leadsource",
            "channel",
            "来源",
            "客户来源",
            "渠道",
        ],
    ),
    (
        Field::Stage,
        &["stage", "status", "阶段", "客户阶段", "客户状态"],
    ),
    (Field::Tags, &["tags", "tag", "labels", "标签"]),
    (
        Field::Notes,
        &[
            "notes", "note", "remark", "remarks", "comment", "comments", "备注", "说明",
        ],
    ),
    (
        Field::Level,
        &[
            "level",
            "customerlevel",
            "客户级别",
            "级别",
            "等级",
            "客户等级",
        ],
    ),
    (Field::Industry, &["industry", "行业", "所属行业"]),
];

/// Columns `pool export` writes that describe the old database, not the customer.
const BOOKKEEPING: &[&str] = &[
    "id",
    "owner",
    "pool",
    "created",
    "updated",
    "claimed",
    "lastcontact",
    "released",
    "previousowner",
    "locked",
];

/// Header text as compared: NFKC-cleaned, lower-case, without spaces, '_' and '-'.
pub fn header_key(h: &str) -> String {
    super::normalize::clean_text(h.trim_start_matches('\u{feff}'))
        .unwrap_or_default()
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_' && *c != '-')
        .collect()
}

pub fn field_by_name(name: &str) -> Option<Field> {
    let k = header_key(name);
    ALIASES
        .iter()
        .find(|(_, names)| names.iter().any(|n| header_key(n) == k))
        .map(|(f, _)| *f)
}

/// Maps each header to a target. `overrides` are `--map "Column=field"` pairs (field may
/// also be `custom` or `ignore`). The first column mapped to a field wins; later ones
/// with the same field are kept as custom fields so nothing is lost.
pub fn map_headers(
    headers: &[String],
    overrides: &[(String, String)],
) -> Result<Vec<Target>, String> {
    let mut used = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(headers.len());
    // Two columns with the same name: which one is "phone"? Refused, so a second phone
    // never slips into a custom field (or over the first) unnoticed.
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let key = header_key(h);
        if key.is_empty() {
            continue;
        }
        if let Some(first) = seen.insert(key, i) {
            return Err(format!(
                "the header has the column '{}' twice (columns {} and {}); rename or remove one",
                h.trim(),
                first + 1,
                i + 1
            ));
        }
    }
    for h in headers {
        let key = header_key(h);
        let forced = overrides
            .iter()
            .find(|(col, _)| header_key(col) == key)
            .map(|(_, f)| f.as_str());
        let target = match forced {
            Some("custom") => Target::Custom(clean_header(h)),
            Some("ignore") => Target::Ignore,
            Some(f) => Target::Field(field_by_name(f).ok_or_else(|| format!("--map: '{f}' is not a field (name, company, phone, email, city, address, source, stage, tags, notes, level, industry, custom, ignore)"))?),
            None => match field_by_name(h) {
                Some(f) => Target::Field(f),
                None if BOOKKEEPING.contains(&key.as_str()) => Target::Ignore,
                None if key.is_empty() => Target::Ignore,
                None => Target::Custom(clean_header(h)),
            },
        };
        let target = match target {
            Target::Field(f) if !used.insert(f) => Target::Custom(clean_header(h)),
            t => t,
        };
        out.push(target);
    }
    for (col, _) in overrides {
        if !headers.iter().any(|h| header_key(h) == header_key(col)) {
            return Err(format!("--map: the file has no column '{col}'"));
        }
    }
    Ok(out)
}

fn clean_header(h: &str) -> String {
    let t = super::normalize::clean_text(h.trim_start_matches('\u{feff}')).unwrap_or_default();
    t.strip_prefix("custom.").map(String::from).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heads(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn chinese_and_english_aliases() {
        let t = map_headers(
            &heads(&["姓名", "公司", "手机号", "E-Mail", " City ", "职位", "id"]),
            &[],
        )
        .unwrap();
        assert_eq!(t[0], Target::Field(Field::Name));
        assert_eq!(t[1], Target::Field(Field::Company));
        assert_eq!(t[2], Target::Field(Field::Phone));
        assert_eq!(t[3], Target::Field(Field::Email));
        assert_eq!(t[4], Target::Field(Field::City));
        assert_eq!(t[5], Target::Custom("职位".into()));
        assert_eq!(t[6], Target::Ignore);
    }

    #[test]
    fn duplicate_column_names_are_refused() {
        let e = map_headers(&heads(&["name", "phone", "Phone "]), &[]).unwrap_err();
        assert!(e.contains("'Phone' twice (columns 2 and 3)"), "{e}");
        assert!(map_headers(&heads(&["name", "", ""]), &[]).is_ok());
    }

    #[test]
    fn map_overrides_and_second_columns_are_kept() {
        let t = map_headers(
            &heads(&["Mobile2", "电话", "手机"]),
            &[("Mobile2".into(), "phone".into())],
        )
        .unwrap();
        assert_eq!(t[0], Target::Field(Field::Phone));
        assert_eq!(t[1], Target::Custom("电话".into()));
        assert!(map_headers(&heads(&["a"]), &[("b".into(), "phone".into())]).is_err());
        assert!(map_headers(&heads(&["a"]), &[("a".into(), "nonsense".into())]).is_err());
        let t = map_headers(&heads(&["custom.职位"]), &[]).unwrap();
        assert_eq!(t[0], Target::Custom("职位".into()));
    }
}
