//! The one door: one function per use case. Each takes the store, the acting user, plain
//! input and `now`; opens the transaction; checks scope through [`scope`]; asks `domain`
//! to decide; writes the change and its audit row; commits; and returns a typed outcome.
//! No SQL, no driver type and no printing here.
pub mod agenda;
pub mod allocate;
pub mod audit;
pub mod contact;
pub mod customer;
pub mod dedupe;
pub mod demo;
pub mod export;
pub mod fields;
pub mod import;
pub mod matching;
pub mod merge;
pub mod notify;
pub mod people;
pub mod pool;
pub mod recycle;
pub mod report;
pub mod rules;
pub mod safety;
pub mod scope;
pub mod settings;
pub mod work;

/// How a changed field appears in the audit log: contacts masked, notes only noted, so
/// the append-only log never holds personal data that `pool forget` must erase.
pub fn audit_value(field: &str, v: &Option<String>) -> serde_json::Value {
    use crate::domain::mask::{mask_address, mask_email, mask_phone};
    use serde_json::{json, Value};
    match (field, v) {
        (_, None) => Value::Null,
        ("phone", Some(s)) => json!(mask_phone(s)),
        ("email", Some(s)) => json!(mask_email(s)),
        ("address", Some(s)) => json!(mask_address(s)),
        ("notes", Some(_)) => json!("(changed)"),
        (_, Some(s)) => json!(s),
    }
}

#[cfg(test)]
mod tests;
