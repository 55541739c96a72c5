//! The rules of an import: who may import for whom and into which pool, what a file may
//! add, what a member's own import may take, and how a duplicate row fills in the
//! customer it duplicates. Pure: no store, no files, no printing.
use serde_json::{Map, Value};

use super::customer::{validate, Customer, CustomerFields, CustomerInput, Stage};
use super::roles::{allowed, Action, Role, User};
use super::rules::{check_stage_change, Rules};
use crate::error::{Error, Result};

/// Customers given to `owner` instead of a pool: only one's own without the right to
/// assign, and a manager only to their team.
pub fn check_owner(me: &User, owner: &User) -> Result<()> {
    if owner.id != me.id && !allowed(me.role, Action::Assign) {
        return Err(Error::PermissionDenied {
            role: me.role.as_str().into(),
            action: "import customers for another owner".into(),
        });
    }
    if me.role == Role::Manager && owner.team_id != me.team_id {
        return Err(Error::Forbidden(format!(
            "'{}' is not in your team",
            owner.login
        )));
    }
    Ok(())
}

/// Customers put in `pool`: only one the importer's team sees (admins: every pool).
pub fn check_pool(me: &User, pool: &str, visible: bool) -> Result<()> {
    if me.role != Role::Admin && !visible {
        return Err(Error::PoolNotVisible {
            pool: pool.to_string(),
            team: me.team.clone(),
        });
    }
    Ok(())
}

/// Whether this import takes customers for a member themselves: then no copies of
/// existing customers (a copy would dodge a cooldown), and the pool's limits hold.
pub fn takes_for_self(me: &User, owner_id: Option<i64>) -> bool {
    owner_id == Some(me.id) && me.role == Role::Member
}

/// A member's import for themselves may not create copies of existing customers.
pub fn check_copies(takes_for_self: bool, create_copies: bool) -> Result<()> {
    if takes_for_self && create_copies {
        return Err(Error::invalid(
            "--on-duplicate",
            "a member importing customers for themselves cannot create copies of existing customers; use skip or merge, or import into a pool",
        ));
    }
    Ok(())
}

/// The custom fields a database may know in all (every one becomes an export column).
pub fn check_custom_fields(known: &[String], names: &[String], max: usize) -> Result<()> {
    let new = names.iter().filter(|n| !known.contains(n)).count();
    if known.len() + new > max {
        return Err(Error::invalid_hint(
            "header",
            format!(
                "the database has {} custom fields and this file would add {new} more (at most {max} in all)",
                known.len(),
            ),
            "map the file's extra columns to existing fields with --map \"COLUMN=FIELD\", or \"COLUMN=ignore\"",
        ));
    }
    Ok(())
}

/// A new customer has no deal: a member imports leads, not won customers (the whole
/// import is rolled back, as for any error).
pub fn check_lead_stage(role: Role, line: u64, stage: Option<Stage>) -> Result<()> {
    let Some(stage) = stage else {
        return Ok(());
    };
    check_stage_change(role, stage.as_str(), false).map_err(|e| {
        Error::Forbidden(format!(
            "line {line}: {}",
            match e {
                Error::Forbidden(m) => m,
                other => other.to_string(),
            }
        ))
    })
}

/// Every path that gives someone customers keeps the pool's limits: max_owned for the
/// owner after the import, and the daily cap when a member takes them for themselves.
pub fn check_owner_limits(
    rules: &Rules,
    owner: &str,
    owned: i64,
    takes_for_self: bool,
    claims_today: i64,
    imported: i64,
) -> Result<()> {
    if rules.max_owned > 0 && owned > rules.max_owned {
        return Err(Error::LimitReached {
            who: owner.to_string(),
            n: owned,
            max: rules.max_owned,
            pool: "public".into(),
        });
    }
    if takes_for_self && rules.daily_claims > 0 && claims_today + imported > rules.daily_claims {
        return Err(Error::DailyCap {
            n: claims_today + imported,
            max: rules.daily_claims,
        });
    }
    Ok(())
}

/// What a duplicate row fills in on the customer it duplicates.
#[derive(Debug, Clone)]
pub struct Fill {
    pub before: CustomerFields,
    pub after: CustomerFields,
    /// The custom fields, when the row added some (a JSON object), and which.
    pub custom: Option<String>,
    pub custom_added: Vec<String>,
}

/// Fills the customer's empty fields (and adds tags and custom fields) from a duplicate
/// row; never overwrites a value. None when nothing would change.
pub fn fill_from_duplicate(
    c: &Customer,
    row: &CustomerFields,
    row_custom: &Map<String, Value>,
) -> Result<Option<Fill>> {
    let mut f = validate(
        &CustomerInput {
            name: c.name.clone(),
            company: c.company.clone(),
            phone: c.phone.clone(),
            email: c.email.clone(),
            city: c.city.clone(),
            address: c.address.clone(),
            source: c.source.clone(),
            tags: Some(c.tags.clone()),
            notes: c.notes.clone(),
        },
        false,
    )?;
    let before = f.clone();
    let n = row;
    for (slot, new) in [
        (&mut f.name, &n.name),
        (&mut f.company, &n.company),
        (&mut f.phone, &n.phone),
        (&mut f.email, &n.email),
        (&mut f.city, &n.city),
        (&mut f.address, &n.address),
        (&mut f.source, &n.source),
        (&mut f.notes, &n.notes),
    ] {
        if slot.is_none() {
            slot.clone_from(new);
        }
    }
    for t in &n.tags {
        super::normalize::add_tag(&mut f.tags, t.clone());
    }
    let mut custom: Map<String, Value> = c
        .custom
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    let custom_before = custom.len();
    let mut custom_added = Vec::new();
    for (k, v) in row_custom {
        if !custom.contains_key(k) {
            custom.insert(k.clone(), v.clone());
            custom_added.push(k.clone());
        }
    }
    if f == before && custom.len() == custom_before {
        return Ok(None);
    }
    // Keys again, for the filled-in values.
    let after = validate(
        &CustomerInput {
            name: f.name.clone(),
            company: f.company.clone(),
            phone: f.phone.clone(),
            email: f.email.clone(),
            city: f.city.clone(),
            address: f.address.clone(),
            source: f.source.clone(),
            tags: Some(f.tags.join(",")),
            notes: f.notes.clone(),
        },
        false,
    )?;
    Ok(Some(Fill {
        before,
        after,
        custom: (custom.len() != custom_before).then(|| Value::Object(custom).to_string()),
        custom_added,
    }))
}
