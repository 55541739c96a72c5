//! Custom fields declared per pool with a type, the customer's level and industry, and
//! `--where` conditions on them. Pure: values are checked and put in their stored form
//! (text, stored in the customer's `custom` JSON object).
use chrono::NaiveDate;
use serde::Serialize;

use super::customer::MAX_FIELD_BYTES;
use super::normalize::clean_text;
use crate::error::{Error, Result};

/// The type of a custom field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    Text,
    Number,
    Date,
    Choice,
}

impl FieldKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::Number => "number",
            FieldKind::Date => "date",
            FieldKind::Choice => "choice",
        }
    }

    pub fn parse(s: &str) -> Option<FieldKind> {
        Some(match s.trim().to_lowercase().as_str() {
            "text" | "文本" => FieldKind::Text,
            "number" | "数字" => FieldKind::Number,
            "date" | "日期" => FieldKind::Date,
            "choice" | "选项" => FieldKind::Choice,
            _ => return None,
        })
    }
}

/// One declared custom field of a pool.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldDef {
    pub name: String,
    pub kind: FieldKind,
    /// The allowed values of a choice field, in declared spelling and order.
    pub choices: Vec<String>,
}

/// Names a custom field may not take: the customer's own fields (and the names the
/// export gives its columns), so `--set city=…` cannot shadow the real city.
const RESERVED: &[&str] = &[
    "id",
    "name",
    "company",
    "phone",
    "email",
    "city",
    "address",
    "source",
    "stage",
    "tags",
    "notes",
    "owner",
    "pool",
    "level",
    "industry",
    "created",
    "updated",
    "last_contact",
    "custom",
];

/// Characters a field name may not hold: the `--where` operators, the `KEY=VALUE`
/// separator, list separators and JSON-path quoting.
const NAME_FORBIDDEN: &[char] = &['=', '!', '<', '>', '~', ',', '"', '\\', '$', '.', '[', ']'];

/// The longest field name, in characters.
pub const MAX_NAME_CHARS: usize = 40;

/// A field name as declared: trimmed, NFKC; refused when empty, too long, reserved, or
/// holding an operator character.
pub fn check_name(raw: &str) -> Result<String> {
    let name = clean_text(raw).unwrap_or_default();
    let hint = "a short name such as 行业, 预算 or 签约日期, without = ! < > ~ , \" \\ $ . [ ]";
    if name.is_empty() {
        return Err(Error::invalid_hint("field name", "it is empty", hint));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::invalid_hint(
            "field name",
            format!("'{name}' is longer than {MAX_NAME_CHARS} characters"),
            hint,
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| NAME_FORBIDDEN.contains(c) || c.is_control())
    {
        return Err(Error::invalid_hint(
            "field name",
            format!("'{name}' holds '{c}'"),
            hint,
        ));
    }
    if RESERVED.contains(&name.to_lowercase().as_str()) {
        return Err(Error::invalid_hint(
            "field name",
            format!("'{name}' is a customer field already"),
            "use --level/--industry or the field's own flag (pool edit --help); pick another name for a custom field",
        ));
    }
    Ok(name)
}

/// The choices of a choice field: separated by `,`, `，` or `、`, trimmed, none empty,
/// none twice (ignoring case).
pub fn parse_choices(raw: &str) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for part in raw.split([',', '，', '、']) {
        let Some(c) = clean_text(part) else { continue };
        if c.contains(',') {
            return Err(Error::invalid("--choices", format!("'{c}' holds a comma")));
        }
        if out.iter().any(|o| o.to_lowercase() == c.to_lowercase()) {
            return Err(Error::invalid("--choices", format!("'{c}' is given twice")));
        }
        out.push(c);
    }
    if out.is_empty() {
        return Err(Error::invalid_hint(
            "--choices",
            "a choice field needs its choices",
            "e.g. --choices 制造业,零售,互联网",
        ));
    }
    Ok(out)
}

/// A declaration checked: the name, and choices exactly when the kind is `choice`.
pub fn declare(name: &str, kind: FieldKind, choices: Option<&str>) -> Result<FieldDef> {
    let name = check_name(name)?;
    let choices = match (kind, choices) {
        (FieldKind::Choice, Some(c)) => parse_choices(c)?,
        (FieldKind::Choice, None) => {
            return Err(Error::invalid_hint(
                "--choices",
                "a choice field needs its choices",
                "e.g. --choices 制造业,零售,互联网",
            ))
        }
        (_, Some(_)) => {
            return Err(Error::invalid(
                "--choices",
                format!(
                    "only a choice field has choices, not a {} field",
                    kind.as_str()
                ),
            ))
        }
        (_, None) => Vec::new(),
    };
    Ok(FieldDef {
        name,
        kind,
        choices,
    })
}

/// A number as stored: what was typed without grouping separators; refused unless it is
/// a finite decimal number.
fn number(field: &str, raw: &str) -> Result<String> {
    let t: String = raw
        .chars()
        .filter(|c| !matches!(c, ',' | '_' | ' '))
        .collect();
    let ok = !t.is_empty()
        && t.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+'))
        && t.parse::<f64>().is_ok_and(f64::is_finite);
    if !ok {
        return Err(Error::invalid_hint(
            field,
            format!("'{raw}' is not a number"),
            "a number such as 120, 3.5 or -2 (thousands separators are fine: 1,200,000)",
        ));
    }
    let t = t.strip_prefix('+').unwrap_or(&t).to_string();
    Ok(t)
}

/// A value for a declared field in its stored form: text cleaned; a number checked;
/// a date as people type it (2026-12-08, 12-08, 12月8日, 明天) stored as ISO
/// `YYYY-MM-DD`; a choice matched ignoring case and stored in its declared spelling.
pub fn value(def: &FieldDef, raw: &str, today: NaiveDate) -> Result<String> {
    if raw.len() > MAX_FIELD_BYTES {
        return Err(Error::invalid(
            def.name.clone(),
            format!(
                "{} bytes is longer than the limit of {MAX_FIELD_BYTES}",
                raw.len()
            ),
        ));
    }
    let Some(t) = clean_text(raw) else {
        return Err(Error::invalid_hint(
            def.name.clone(),
            "the value is empty",
            format!("to remove it: --unset {}", def.name),
        ));
    };
    match def.kind {
        FieldKind::Text => Ok(t),
        FieldKind::Number => number(&def.name, &t),
        FieldKind::Date => Ok(super::dates::parse_date(&def.name, &t, today)?
            .format("%Y-%m-%d")
            .to_string()),
        FieldKind::Choice => def
            .choices
            .iter()
            .find(|c| c.to_lowercase() == t.to_lowercase())
            .cloned()
            .ok_or_else(|| {
                Error::invalid_hint(
                    def.name.clone(),
                    format!("'{t}' is not one of its choices"),
                    format!("one of: {}", def.choices.join(", ")),
                )
            }),
    }
}

/// A customer's level: A, B or C (any case; 甲乙丙 too).
pub fn level(raw: &str) -> Result<String> {
    match raw.trim().to_uppercase().as_str() {
        "A" | "甲" => Ok("A".into()),
        "B" | "乙" => Ok("B".into()),
        "C" | "丙" => Ok("C".into()),
        _ => Err(Error::invalid_hint(
            "level",
            format!("'{}' is not a level", raw.trim()),
            "A, B or C",
        )),
    }
}

/// An industry as stored: cleaned text, not empty.
pub fn industry(raw: &str) -> Result<String> {
    if raw.len() > MAX_FIELD_BYTES {
        return Err(Error::invalid("industry", "too long"));
    }
    clean_text(raw).ok_or_else(|| {
        Error::invalid_hint("industry", "it is empty", "to remove it: --clear industry")
    })
}

/// The comparison of a `--where` condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    /// Contains (text fields).
    Contains,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Contains => "~",
        }
    }
}

/// `KEY OP VALUE` split at its first operator: `行业=制造业`, `预算>=100000`, `备注~展会`.
pub fn split_where(raw: &str) -> Result<(String, Op, String)> {
    let hint = "KEY=VALUE, KEY!=VALUE, KEY>N, KEY>=N, KEY<N, KEY<=N or KEY~TEXT";
    let at = raw
        .find(['=', '!', '<', '>', '~'])
        .ok_or_else(|| Error::invalid_hint("--where", format!("'{raw}' has no operator"), hint))?;
    let (key, rest) = raw.split_at(at);
    let (op, value) = [
        ("!=", Op::Ne),
        (">=", Op::Ge),
        ("<=", Op::Le),
        ("=", Op::Eq),
        (">", Op::Gt),
        ("<", Op::Lt),
        ("~", Op::Contains),
    ]
    .iter()
    .find_map(|(s, op)| rest.strip_prefix(s).map(|v| (*op, v)))
    .ok_or_else(|| Error::invalid_hint("--where", format!("'{raw}' has no operator"), hint))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(Error::invalid_hint(
            "--where",
            format!("'{raw}' names no field"),
            hint,
        ));
    }
    Ok((key.to_string(), op, value.trim().to_string()))
}

/// A checked condition on a custom field, with the value in stored form.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Condition {
    pub key: String,
    pub op: Op,
    pub value: String,
    /// Compare as numbers (number fields); otherwise as text (ISO dates sort as text).
    pub numeric: bool,
}

/// A `--where` condition for a field of this kind (None: not declared, kept from an
/// import, compared as text). Order operators need a number or date field, `~` a text
/// one; the value is put in stored form so it compares with what is stored.
pub fn condition(
    key: &str,
    op: Op,
    raw: &str,
    def: Option<&FieldDef>,
    today: NaiveDate,
) -> Result<Condition> {
    if key.contains(['"', '\\']) {
        return Err(Error::invalid(
            "--where",
            format!("'{key}' cannot be searched (it holds a quote or backslash)"),
        ));
    }
    let kind = def.map_or(FieldKind::Text, |d| d.kind);
    let ordered = matches!(op, Op::Gt | Op::Ge | Op::Lt | Op::Le);
    if ordered && !matches!(kind, FieldKind::Number | FieldKind::Date) {
        return Err(Error::invalid_hint(
            "--where",
            format!(
                "'{key}' is a {} field: {} compares numbers and dates",
                kind.as_str(),
                op.as_str()
            ),
            "use = or != (or ~ for text)",
        ));
    }
    if op == Op::Contains && kind != FieldKind::Text {
        return Err(Error::invalid_hint(
            "--where",
            format!("'{key}' is a {} field: ~ searches text", kind.as_str()),
            "use = or != (numbers and dates also > >= < <=)",
        ));
    }
    let value = match def {
        Some(d) => value(d, raw, today)?,
        None => clean_text(raw).unwrap_or_default(),
    };
    Ok(Condition {
        key: key.to_string(),
        op,
        value,
        numeric: kind == FieldKind::Number,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()
    }

    fn def(kind: FieldKind, choices: &[&str]) -> FieldDef {
        FieldDef {
            name: "f".into(),
            kind,
            choices: choices.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(check_name(" 行业 ").unwrap(), "行业");
        for bad in ["", "a=b", "x>y", "city", "Level", "a\"b", "a.b"] {
            let e = check_name(bad).unwrap_err();
            assert_eq!(e.exit_code(), 6, "{bad}");
        }
        assert!(check_name(&"长".repeat(MAX_NAME_CHARS + 1)).is_err());
    }

    #[test]
    fn choices_split_on_chinese_commas_and_refuse_twins() {
        assert_eq!(
            parse_choices("制造业，零售、互联网").unwrap(),
            ["制造业", "零售", "互联网"]
        );
        assert!(parse_choices("A,a").is_err());
        assert!(parse_choices(" , ").is_err());
        assert!(declare("x", FieldKind::Choice, None).is_err());
        assert!(declare("x", FieldKind::Text, Some("a")).is_err());
    }

    #[test]
    fn numbers_parse_and_drop_separators() {
        let d = def(FieldKind::Number, &[]);
        assert_eq!(value(&d, "1,200,000", today()).unwrap(), "1200000");
        assert_eq!(value(&d, "+3.5", today()).unwrap(), "3.5");
        assert_eq!(value(&d, "-2", today()).unwrap(), "-2");
        for bad in ["abc", "1e400", "12元", "NaN", "inf", "."] {
            assert_eq!(value(&d, bad, today()).unwrap_err().exit_code(), 6, "{bad}");
        }
    }

    #[test]
    fn dates_are_typed_as_people_do_and_stored_iso() {
        let d = def(FieldKind::Date, &[]);
        assert_eq!(value(&d, "2026-12-08", today()).unwrap(), "2026-12-08");
        assert_eq!(value(&d, "12月8日", today()).unwrap(), "2026-12-08");
        assert_eq!(value(&d, "明天", today()).unwrap(), "2026-11-29");
        assert!(value(&d, "someday", today()).is_err());
    }

    #[test]
    fn choices_match_ignoring_case_and_keep_the_declared_spelling() {
        let d = def(FieldKind::Choice, &["SaaS", "零售"]);
        assert_eq!(value(&d, "saas", today()).unwrap(), "SaaS");
        let e = value(&d, "汽车", today()).unwrap_err();
        assert!(matches!(e, Error::Invalid { ref hint, .. } if hint.contains("SaaS, 零售")));
    }

    #[test]
    fn empty_values_are_refused_with_the_unset_hint() {
        let d = def(FieldKind::Text, &[]);
        assert!(
            matches!(value(&d, "  ", today()), Err(Error::Invalid { ref hint, .. }) if hint.contains("--unset f"))
        );
    }

    #[test]
    fn levels() {
        assert_eq!(level(" a ").unwrap(), "A");
        assert_eq!(level("乙").unwrap(), "B");
        assert!(level("D").is_err());
    }

    #[test]
    fn where_splits_at_the_first_operator() {
        assert_eq!(
            split_where("预算>=100").unwrap(),
            ("预算".into(), Op::Ge, "100".into())
        );
        assert_eq!(
            split_where("行业!=零售").unwrap(),
            ("行业".into(), Op::Ne, "零售".into())
        );
        assert_eq!(
            split_where("备注~a=b").unwrap(),
            ("备注".into(), Op::Contains, "a=b".into())
        );
        assert_eq!(split_where("x<3").unwrap().1, Op::Lt);
        assert!(split_where("novalue").is_err());
        assert!(split_where("=x").is_err());
    }

    #[test]
    fn conditions_fit_the_field_type() {
        let n = def(FieldKind::Number, &[]);
        let c = condition("f", Op::Gt, "1,000", Some(&n), today()).unwrap();
        assert!(c.numeric);
        assert_eq!(c.value, "1000");
        assert!(condition("f", Op::Contains, "1", Some(&n), today()).is_err());
        let ch = def(FieldKind::Choice, &["零售"]);
        assert!(condition("f", Op::Lt, "零售", Some(&ch), today()).is_err());
        assert!(condition("f", Op::Eq, "汽车", Some(&ch), today()).is_err());
        let dt = def(FieldKind::Date, &[]);
        assert_eq!(
            condition("f", Op::Le, "12月8日", Some(&dt), today())
                .unwrap()
                .value,
            "2026-12-08"
        );
        // Not declared (kept from an import): text.
        assert!(condition("f", Op::Contains, "x", None, today()).is_ok());
        assert!(condition("f", Op::Gt, "x", None, today()).is_err());
        assert!(condition("a\"b", Op::Eq, "x", None, today()).is_err());
    }
}
