//! Custom fields: `pool fields add|list|remove` (declared per pool with a type), and the
//! pieces the customer use cases share: applying `--set/--unset` to a customer's custom
//! values, and turning `--where` into checked conditions.
use chrono::NaiveDate;
use serde_json::{json, Map, Value};

use super::scope;
use crate::domain::customer_rules as decide;
use crate::domain::fields::{self, Condition, FieldDef, FieldKind};
use crate::domain::roles::{Action, User};
use crate::error::{Error, Result};
use crate::store::ops::audit::Record;
use crate::store::{Backend, Tx};

/// The local date of `now`, for dates people type relative to today.
pub fn today(now: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp(now, 0)
        .map(crate::clock::today_of)
        .unwrap_or_default()
}

/// A pool's id, if `me` may see it (admins see every pool).
fn visible_pool(tx: &mut dyn Tx, me: &User, pool: &str) -> Result<i64> {
    let id = tx.pool_id(pool)?;
    let visible = tx.pool_visible(id, me.team_id)?;
    decide::check_pool_visible(me, pool, visible)?;
    Ok(id)
}

/// Declares a field in a pool (admin); audited.
pub fn add(
    store: &mut dyn Backend,
    me: &User,
    pool: &str,
    name: &str,
    kind: FieldKind,
    choices: Option<&str>,
    now: i64,
) -> Result<FieldDef> {
    scope::require(me, Action::ManageRules)?;
    let def = fields::declare(name, kind, choices)?;
    let mut tx = store.write()?;
    let pool_id = tx.pool_id(pool)?;
    if !tx.add_field(pool_id, &def, now)? {
        return Err(Error::Conflict(format!(
            "pool '{pool}' has a field '{}' already (pool fields list --pool {pool}; remove it first to change its type)",
            def.name
        )));
    }
    // Known for good: an export keeps the column even after the declaration goes.
    tx.remember_custom_fields(std::slice::from_ref(&def.name))?;
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action: "field_add",
        entity: "pool",
        entity_id: Some(pool_id),
        before: None,
        after: Some(
            json!({"pool": pool, "field": def.name, "type": def.kind, "choices": def.choices}),
        ),
    })?;
    tx.commit()?;
    Ok(def)
}

/// Removes a declaration (admin); the values on customers stay (shown and exported as
/// plain custom fields). Audited.
pub fn remove(
    store: &mut dyn Backend,
    me: &User,
    pool: &str,
    name: &str,
    now: i64,
) -> Result<FieldDef> {
    scope::require(me, Action::ManageRules)?;
    let name = fields::check_name(name).unwrap_or_else(|_| name.trim().to_string());
    let mut tx = store.write()?;
    let pool_id = tx.pool_id(pool)?;
    let def = tx
        .fields(pool_id)?
        .into_iter()
        .find(|d| d.name == name)
        .ok_or_else(|| {
            Error::invalid_hint(
                "field",
                format!("pool '{pool}' has no field '{name}'"),
                format!("pool fields list --pool {pool}"),
            )
        })?;
    tx.remove_field(pool_id, &def.name)?;
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action: "field_remove",
        entity: "pool",
        entity_id: Some(pool_id),
        before: Some(
            json!({"pool": pool, "field": def.name, "type": def.kind, "choices": def.choices}),
        ),
        after: None,
    })?;
    tx.commit()?;
    Ok(def)
}

/// A pool's declared fields, for anyone who may read that pool.
pub fn list(store: &mut dyn Backend, me: &User, pool: &str) -> Result<Vec<FieldDef>> {
    scope::require(me, Action::ReadCustomers)?;
    let mut tx = store.read()?;
    let pool_id = visible_pool(&mut *tx, me, pool)?;
    tx.fields(pool_id)
}

/// Every custom field name known: declared in any pool, or kept by an import.
pub fn known_names(store: &mut dyn Backend, me: &User) -> Result<Vec<String>> {
    scope::require(me, Action::ReadCustomers)?;
    let mut tx = store.read()?;
    let mut names: Vec<String> = tx.all_fields()?.into_iter().map(|(_, d)| d.name).collect();
    names.extend(tx.custom_field_names()?);
    Ok(names)
}

/// `--set KEY=VALUE` split at its first `=`.
pub fn split_set(raw: &str) -> Result<(String, String)> {
    raw.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| {
            Error::invalid_hint(
                "--set",
                format!("'{raw}' is not KEY=VALUE"),
                "e.g. --set 行业=制造业",
            )
        })
}

/// The custom values of a customer as an object (anything else stored is none).
pub fn custom_map(custom: Option<&str>) -> Map<String, Value> {
    match custom.and_then(|s| serde_json::from_str(s).ok()) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// The hint for a key no pool declares.
fn undeclared(key: &str, pool: &str) -> Error {
    Error::invalid_hint(
        "--set",
        format!("'{key}' is not a field of pool '{pool}'"),
        format!("an admin declares it first: pool fields add {key} --type text --pool {pool} (or number, date, choice)"),
    )
}

/// The custom values after `--set`/`--unset` (None when empty), and the changed keys
/// before and after (as `custom.KEY`).
pub type Applied = (Option<String>, Map<String, Value>, Map<String, Value>);

/// What `--set`/`--unset` do to one customer's custom values: checked against the
/// fields its pool declares (undeclared keys are refused; values imported under other
/// names stay as they are). Returns the new object (None when empty) and the changed
/// keys before and after, as `custom.KEY` for the audit row.
pub fn apply(
    defs: &[FieldDef],
    pool: &str,
    current: Option<&str>,
    set: &[(String, String)],
    unset: &[String],
    today: NaiveDate,
) -> Result<Applied> {
    let old = custom_map(current);
    let mut next = old.clone();
    for (k, raw) in set {
        let def = defs
            .iter()
            .find(|d| d.name == *k)
            .ok_or_else(|| undeclared(k, pool))?;
        next.insert(
            def.name.clone(),
            Value::String(fields::value(def, raw, today)?),
        );
    }
    for k in unset {
        let k = k.trim();
        if next.remove(k).is_none() && !defs.iter().any(|d| d.name == k) {
            return Err(Error::invalid_hint(
                "--unset",
                format!("customer has no field '{k}'"),
                "pool show ID lists its fields",
            ));
        }
    }
    let mut before = Map::new();
    let mut after = Map::new();
    let keys: Vec<&String> = old.keys().chain(next.keys()).collect();
    for k in keys {
        let (o, n) = (old.get(k), next.get(k));
        if o != n && !before.contains_key(&format!("custom.{k}")) {
            before.insert(format!("custom.{k}"), o.cloned().unwrap_or(Value::Null));
            after.insert(format!("custom.{k}"), n.cloned().unwrap_or(Value::Null));
        }
    }
    let stored = if next.is_empty() {
        None
    } else {
        Some(Value::Object(next).to_string())
    };
    Ok((stored, before, after))
}

/// `--where` conditions checked against the declared fields: of the pool named by
/// `--in-pool` if given, else of any pool (a name declared with different types in
/// two pools needs `--in-pool`). A name no pool declares but an import kept compares as
/// text; any other name is refused.
pub fn conditions(
    tx: &mut dyn Tx,
    raw: &[String],
    pool_id: Option<i64>,
    today: NaiveDate,
) -> Result<Vec<Condition>> {
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    let declared = tx.all_fields()?;
    let imported = tx.custom_field_names()?;
    let mut out = Vec::new();
    for w in raw {
        let (key, op, value) = fields::split_where(w)?;
        let key = key.strip_prefix("custom.").unwrap_or(&key).to_string();
        let mut defs: Vec<&FieldDef> = declared
            .iter()
            .filter(|(p, d)| d.name == key && pool_id.is_none_or(|id| id == *p))
            .map(|(_, d)| d)
            .collect();
        defs.dedup_by(|a, b| a == b);
        let def = match defs.as_slice() {
            [] if imported.contains(&key) => None,
            [] => {
                return Err(Error::invalid_hint(
                    "--where",
                    format!("no pool declares a field '{key}'"),
                    format!("pool fields list shows the fields; an admin adds one with pool fields add {key} --type text"),
                ))
            }
            [d] => Some(*d),
            [first, rest @ ..] if rest.iter().all(|d| d.kind == first.kind && d.choices == first.choices) => {
                Some(*first)
            }
            _ => {
                return Err(Error::invalid_hint(
                    "--where",
                    format!("'{key}' is declared differently in several pools"),
                    "name the pool with --in-pool POOL",
                ))
            }
        };
        out.push(fields::condition(&key, op, &value, def, today)?);
    }
    Ok(out)
}

/// Custom values in display order: the pool's declared fields first, in declared order
/// (those without a value too, as null), then any other kept values.
pub fn ordered(defs: &[FieldDef], custom: Option<&str>) -> Vec<(String, Value)> {
    let mut m = custom_map(custom);
    let mut out: Vec<(String, Value)> = defs
        .iter()
        .map(|d| (d.name.clone(), m.remove(&d.name).unwrap_or(Value::Null)))
        .collect();
    out.extend(m);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs() -> Vec<FieldDef> {
        vec![
            fields::declare("行业", FieldKind::Choice, Some("制造业,零售")).unwrap(),
            fields::declare("预算", FieldKind::Number, None).unwrap(),
        ]
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()
    }

    #[test]
    fn set_checks_types_and_keeps_imported_values() {
        let set = vec![("行业".to_string(), "零售".to_string())];
        let (stored, before, after) = apply(
            &defs(),
            "public",
            Some(r#"{"展位":"A12"}"#),
            &set,
            &[],
            day(),
        )
        .unwrap();
        let m = custom_map(stored.as_deref());
        assert_eq!(m["展位"], "A12");
        assert_eq!(m["行业"], "零售");
        assert_eq!(before["custom.行业"], Value::Null);
        assert_eq!(after["custom.行业"], "零售");
        let bad = vec![("预算".to_string(), "很多".to_string())];
        assert!(apply(&defs(), "public", None, &bad, &[], day()).is_err());
        let undeclared_key = vec![("颜色".to_string(), "红".to_string())];
        let e = apply(&defs(), "public", None, &undeclared_key, &[], day()).unwrap_err();
        assert!(
            matches!(e, Error::Invalid { ref hint, .. } if hint.contains("pool fields add 颜色"))
        );
    }

    #[test]
    fn unset_removes_and_empties_to_none() {
        let (stored, _, after) = apply(
            &defs(),
            "public",
            Some(r#"{"行业":"零售"}"#),
            &[],
            &["行业".to_string()],
            day(),
        )
        .unwrap();
        assert_eq!(stored, None);
        assert_eq!(after["custom.行业"], Value::Null);
        assert!(apply(&defs(), "public", None, &[], &["x".to_string()], day()).is_err());
    }

    #[test]
    fn declared_order_first() {
        let o = ordered(&defs(), Some(r#"{"展位":"A12","预算":"5"}"#));
        let keys: Vec<&str> = o.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["行业", "预算", "展位"]);
    }
}
