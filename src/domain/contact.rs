//! A customer's contact people (联系人): validation, normalisation and keys, by the same
//! rules as the customer's own phone and e-mail. Pure.
use serde::Serialize;

use super::customer::MAX_FIELD_BYTES;
use super::normalize::{clean_text, email_key, phone_key};
use crate::error::{Error, Result};

/// A contact as typed; `None` = not given.
#[derive(Debug, Clone, Default)]
pub struct ContactInput {
    pub name: Option<String>,
    pub title: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// A contact cleaned and keyed, ready to store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ContactFields {
    pub name: String,
    pub title: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    #[serde(skip)]
    pub phone_key: Option<String>,
    #[serde(skip)]
    pub email_key: Option<String>,
}

/// The fields `pool contact edit --clear` may empty (a contact always has a name).
pub const CLEARABLE: [&str; 3] = ["title", "phone", "email"];

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

/// Validates and normalises a contact: a name is required; a phone or e-mail must be
/// valid as the customer's own (the stored e-mail is the lower-cased, checked one).
pub fn validate(input: &ContactInput) -> Result<ContactFields> {
    let name = clean("--name", &input.name)?
        .ok_or_else(|| Error::invalid("--name", "a contact needs a name"))?;
    let title = clean("--title", &input.title)?;
    let phone = clean("--phone", &input.phone)?;
    let email = clean("--email", &input.email)?;
    let phone_k = phone
        .as_deref()
        .map(|p| phone_key(p).map_err(|e| Error::invalid("--phone", format!("'{p}' {e}"))))
        .transpose()?;
    let email_k = email
        .as_deref()
        .map(|m| email_key(m).map_err(|e| Error::invalid("--email", format!("'{m}' {e}"))))
        .transpose()?;
    Ok(ContactFields {
        name,
        title,
        phone,
        email: email_k.clone(),
        phone_key: phone_k,
        email_key: email_k,
    })
}

/// The contact an edit leaves: given fields replace, cleared ones are emptied.
pub fn apply_edit(
    current: &ContactFields,
    given: &ContactInput,
    clear: &[String],
) -> Result<ContactInput> {
    if let Some(bad) = clear.iter().find(|f| !CLEARABLE.contains(&f.as_str())) {
        return Err(Error::invalid(
            "--clear",
            format!(
                "'{bad}' cannot be cleared (one of: {}; a contact keeps its name)",
                CLEARABLE.join(", ")
            ),
        ));
    }
    let nothing = given.name.is_none()
        && given.title.is_none()
        && given.phone.is_none()
        && given.email.is_none()
        && clear.is_empty();
    if nothing {
        return Err(Error::invalid(
            "contact edit",
            "nothing to change: give --name, --title, --phone, --email or --clear",
        ));
    }
    let pick = |field: &str, given: &Option<String>, cur: &Option<String>| {
        if clear.iter().any(|c| c == field) {
            None
        } else {
            given.clone().or_else(|| cur.clone())
        }
    };
    Ok(ContactInput {
        name: given.name.clone().or_else(|| Some(current.name.clone())),
        title: pick("title", &given.title, &current.title),
        phone: pick("phone", &given.phone, &current.phone),
        email: pick("email", &given.email, &current.email),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, phone: Option<&str>, email: Option<&str>) -> ContactInput {
        ContactInput {
            name: Some(name.into()),
            title: Some(" 采购经理 ".into()),
            phone: phone.map(Into::into),
            email: email.map(Into::into),
        }
    }

    #[test]
    fn keys_like_the_main_contact() {
        let f = validate(&input(
            "李娜",
            Some("１３９ ００００ １１１１"),
            Some("Li.Na@QQ.com"),
        ))
        .unwrap();
        assert_eq!(f.title.as_deref(), Some("采购经理"));
        assert_eq!(f.phone_key.as_deref(), Some("8613900001111"));
        assert_eq!(f.email.as_deref(), Some("li.na@qq.com"));
    }

    #[test]
    fn bad_phone_or_email_or_no_name_is_refused() {
        assert_eq!(
            validate(&input("a", Some("12"), None))
                .unwrap_err()
                .exit_code(),
            6
        );
        assert_eq!(
            validate(&input("a", None, Some("x@")))
                .unwrap_err()
                .exit_code(),
            6
        );
        assert!(validate(&ContactInput::default()).is_err());
    }

    #[test]
    fn edit_replaces_and_clears() {
        let cur = validate(&input("李娜", Some("13900001111"), None)).unwrap();
        let given = ContactInput {
            email: Some("a@b.cn".into()),
            ..Default::default()
        };
        let next = apply_edit(&cur, &given, &["phone".into()]).unwrap();
        assert_eq!(next.phone, None);
        assert_eq!(next.email.as_deref(), Some("a@b.cn"));
        assert_eq!(next.name.as_deref(), Some("李娜"));
        assert!(apply_edit(&cur, &ContactInput::default(), &[]).is_err());
        assert!(apply_edit(&cur, &given, &["name".into()]).is_err());
    }
}
