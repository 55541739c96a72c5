//! A customer's fields: validation, normalisation and match keys. Pure.
use serde::Serialize;

use super::normalize::{clean_text, company_key, email_key, name_key, parse_tags, phone_key};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// 潜在客户
    Lead,
    /// 成交客户
    Customer,
    /// 忠诚客户
    Loyal,
    /// 流失客户
    Churned,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Lead => "lead",
            Stage::Customer => "customer",
            Stage::Loyal => "loyal",
            Stage::Churned => "churned",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        Some(match s.trim().to_lowercase().as_str() {
            "lead" | "潜在客户" => Stage::Lead,
            "customer" | "成交客户" => Stage::Customer,
            "loyal" | "忠诚客户" => Stage::Loyal,
            "churned" | "流失客户" => Stage::Churned,
            _ => return None,
        })
    }
}

/// Longest value accepted in any one field (64 KiB), so one bad cell cannot bloat the file.
pub const MAX_FIELD_BYTES: usize = 64 * 1024;

/// Raw input as typed or imported; `None` = not given.
#[derive(Debug, Clone, Default)]
pub struct CustomerInput {
    pub name: Option<String>,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub city: Option<String>,
    pub address: Option<String>,
    pub source: Option<String>,
    pub tags: Option<String>,
    pub notes: Option<String>,
}

/// Cleaned values plus their match keys, ready to store.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CustomerFields {
    pub name: Option<String>,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub city: Option<String>,
    pub address: Option<String>,
    pub source: Option<String>,
    pub tags: Vec<String>,
    pub notes: Option<String>,
    /// A, B or C (set by the app from `--level` or an import column; `fields::level`).
    pub level: Option<String>,
    pub industry: Option<String>,
    #[serde(skip)]
    pub keys: MatchKeys,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatchKeys {
    pub phone: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub company: Option<String>,
}

fn clean(field: &str, v: &Option<String>) -> Result<Option<String>> {
    match v {
        None => Ok(None),
        Some(s) if s.len() > MAX_FIELD_BYTES => Err(Error::invalid(
            field,
            format!(
                "{} bytes is longer than the limit of {MAX_FIELD_BYTES}",
                s.len()
            ),
        )),
        Some(s) => Ok(clean_text(s)),
    }
}

/// Validates and normalises one customer. `require_identity` asks for a name or a
/// company (new customers); edits only validate what they change.
pub fn validate(input: &CustomerInput, require_identity: bool) -> Result<CustomerFields> {
    let name = clean("name", &input.name)?;
    let company = clean("company", &input.company)?;
    let phone = clean("phone", &input.phone)?;
    let email = clean("email", &input.email)?;
    // Notes are what people wrote: full-width punctuation and all (only keys are
    // normalised).
    let notes = match &input.notes {
        Some(n) if n.len() > MAX_FIELD_BYTES => {
            return Err(Error::invalid(
                "notes",
                format!(
                    "{} bytes is longer than the limit of {MAX_FIELD_BYTES}",
                    n.len()
                ),
            ))
        }
        Some(n) => crate::domain::normalize::clean_free_text(n),
        None => None,
    };
    let tags = match clean("tags", &input.tags)? {
        Some(t) => parse_tags(&t),
        None => Vec::new(),
    };
    if require_identity && name.is_none() && company.is_none() {
        return Err(Error::invalid(
            "name",
            "a customer needs a name or a company",
        ));
    }
    let phone_k = match &phone {
        Some(p) => Some(phone_key(p).map_err(|e| Error::invalid("phone", format!("'{p}' {e}")))?),
        None => None,
    };
    let email_k = match &email {
        Some(m) => Some(email_key(m).map_err(|e| Error::invalid("email", format!("'{m}' {e}")))?),
        None => None,
    };
    let keys = MatchKeys {
        phone: phone_k,
        email: email_k.clone(),
        name: name.as_deref().map(name_key).filter(|k| !k.is_empty()),
        company: company
            .as_deref()
            .map(company_key)
            .filter(|k| !k.is_empty()),
    };
    Ok(CustomerFields {
        name,
        company,
        phone,
        // The stored e-mail is the lower-cased, checked one: case never matters for delivery.
        email: email_k,
        city: clean("city", &input.city)?,
        address: clean("address", &input.address)?,
        source: clean("source", &input.source)?,
        tags,
        notes,
        level: None,
        industry: None,
        keys,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, phone: &str, email: &str) -> CustomerInput {
        CustomerInput {
            name: Some(name.into()),
            phone: Some(phone.into()).filter(|s: &String| !s.is_empty()),
            email: Some(email.into()).filter(|s: &String| !s.is_empty()),
            ..Default::default()
        }
    }

    #[test]
    fn normalises_and_keys() {
        let f = validate(
            &input(" 张　三 ", "１３８ ００１３ ８０００", "Zhang.San@QQ.com"),
            true,
        )
        .unwrap();
        assert_eq!(f.name.as_deref(), Some("张 三"));
        assert_eq!(f.keys.phone.as_deref(), Some("8613800138000"));
        assert_eq!(f.email.as_deref(), Some("zhang.san@qq.com"));
        assert_eq!(f.keys.name.as_deref(), Some("张三"));
    }

    #[test]
    fn bad_email_names_the_field() {
        let e = validate(&input("a", "", "wang@"), true).unwrap_err();
        assert!(matches!(&e, Error::InvalidInput { field, .. } if field == "email"));
        assert_eq!(e.exit_code(), 6);
    }

    #[test]
    fn identity_required_for_new_customers() {
        let e = validate(&CustomerInput::default(), true).unwrap_err();
        assert!(matches!(&e, Error::InvalidInput { field, .. } if field == "name"));
        assert!(validate(&CustomerInput::default(), false).is_ok());
    }

    #[test]
    fn oversize_field_is_refused() {
        let mut i = input("a", "", "");
        i.notes = Some("x".repeat(MAX_FIELD_BYTES + 1));
        assert!(validate(&i, true).is_err());
    }

    #[test]
    fn stages_parse_in_both_languages() {
        assert_eq!(Stage::parse("潜在客户"), Some(Stage::Lead));
        assert_eq!(Stage::parse("Loyal"), Some(Stage::Loyal));
        assert_eq!(Stage::parse("x"), None);
    }
}

/// One customer as stored, with owner and pool names joined in.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Customer {
    pub id: i64,
    pub name: Option<String>,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub city: Option<String>,
    pub address: Option<String>,
    pub source: Option<String>,
    pub stage: String,
    pub tags: String,
    pub notes: Option<String>,
    pub custom: Option<String>,
    pub pool_id: i64,
    pub pool: String,
    pub owner_id: Option<i64>,
    pub owner: Option<String>,
    pub owner_team_id: Option<i64>,
    pub previous_owner: Option<String>,
    pub locked: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub claimed_at: Option<i64>,
    pub pooled_at: Option<i64>,
    pub released_at: Option<i64>,
    pub last_contact_at: Option<i64>,
    pub won_at: Option<i64>,
    pub deleted_at: Option<i64>,
    pub merged_into: Option<i64>,
    /// A, B or C.
    pub level: Option<String>,
    pub industry: Option<String>,
}
