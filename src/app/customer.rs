//! The customers' use cases: add, show, list, edit, delete and forget. Every read and
//! every change asks [`scope`] (or, for plain reads, [`readable`]); an unmasked read of
//! someone else's personal data is audit-logged before it is returned.
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::pool::{audit_customer, lost_twin};
use super::{audit_value, scope};
use crate::domain::customer::{validate, Customer, CustomerFields, CustomerInput, Stage};
use crate::domain::customer_rules as decide;
use crate::domain::fields;
use crate::domain::normalize::{clean_text, parse_tags, tag_key};
use crate::domain::roles::{Action, User};
use crate::domain::rules::{check_stage_change, day_start};
use crate::error::{Error, Result};
use crate::store::ops::audit::Record;
use crate::store::ops::customers::{Event, ForgetCounts};
use crate::store::ops::pool::OwnershipEvent;
use crate::store::{Backend, ListFilter, Placement, Sort, Tx};

/// The public pool: where customers added for an owner belong when released.
const PUBLIC_POOL: i64 = 1;

/// Where a new customer goes.
#[derive(Debug, Clone)]
pub enum Place {
    /// Owned by the one who adds it.
    Mine,
    /// Unowned, in this pool.
    Pool(String),
    /// Owned by this user (a manager or admin adds it for them).
    Owner(String),
}

/// A customer to add.
#[derive(Debug, Clone)]
pub struct NewCustomer {
    pub input: CustomerInput,
    pub stage: Stage,
    pub place: Place,
    pub extras: Extras,
}

/// Level, industry and custom values, as given (`--level`, `--industry`, `--set`,
/// `--unset`); checked by the use case against the customer's pool.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    pub level: Option<String>,
    pub industry: Option<String>,
    /// `--set KEY=VALUE`, split.
    pub set: Vec<(String, String)>,
    pub unset: Vec<String>,
}

impl Extras {
    fn is_empty(&self) -> bool {
        self.level.is_none()
            && self.industry.is_none()
            && self.set.is_empty()
            && self.unset.is_empty()
    }

    /// Level and industry in stored form (None: not given).
    fn checked(&self) -> Result<(Option<String>, Option<String>)> {
        Ok((
            self.level.as_deref().map(fields::level).transpose()?,
            self.industry.as_deref().map(fields::industry).transpose()?,
        ))
    }
}

/// What an add did.
#[derive(Debug, Clone, Serialize)]
pub struct Added {
    pub id: i64,
    pub fields: CustomerFields,
    pub owner: Option<String>,
    pub pool: Option<String>,
    /// Existing customers it probably duplicates: (id, why).
    pub duplicates: Vec<(i64, String)>,
}

/// Adds one customer: for oneself (the claim rules apply), into a pool, or for another
/// owner; warns of likely duplicates.
pub fn add(store: &mut dyn Backend, me: &User, new: &NewCustomer, now: i64) -> Result<Added> {
    scope::require(me, Action::AddCustomer)?;
    let mut f = validate(&new.input, true)?;
    (f.level, f.industry) = new.extras.checked()?;
    if matches!(new.place, Place::Owner(_)) {
        decide::check_add_for_other(me)?;
    }
    let stage = new.stage.as_str();
    let mut tx = store.write()?;
    let (place, owner, pool) = match &new.place {
        Place::Owner(login) => {
            let u = tx.user(login)?;
            decide::check_owner_for_add(me, login, &u)?;
            let place = Placement {
                pool_id: PUBLIC_POOL,
                owner_id: Some(u.id),
            };
            (place, Some(u.login), None)
        }
        Place::Pool(p) => {
            let pool_id = tx.pool_id(p)?;
            let visible = tx.pool_visible(pool_id, me.team_id)?;
            decide::check_pool_visible(me, p, visible)?;
            let place = Placement {
                pool_id,
                owner_id: None,
            };
            (place, None, Some(p.clone()))
        }
        Place::Mine => {
            let place = Placement {
                pool_id: PUBLIC_POOL,
                owner_id: Some(me.id),
            };
            (place, Some(me.login.clone()), None)
        }
    };
    // A new customer has no deal: a member adds leads (or churned), in a pool or not.
    check_stage_change(me.role, stage, false)?;
    if place.owner_id == Some(me.id) {
        let rules = tx.rules(place.pool_id)?;
        let keys = (f.keys.phone.as_deref(), f.keys.email.as_deref());
        let twin = lost_twin(&mut *tx, me, 0, keys, &rules, now)?;
        let facts = tx.claim_facts(0, None, me.id, place.pool_id, &rules, day_start(now))?;
        decide::decide_add_for_self(me, stage, &rules, &facts, twin, now)?;
    }
    let duplicates = super::matching::likely_duplicates(&mut *tx, &f)?;
    let custom = if new.extras.set.is_empty() {
        None
    } else {
        let defs = tx.fields(place.pool_id)?;
        let pool_name = pool.clone().unwrap_or_else(|| "public".into());
        let (custom, _, _) = super::fields::apply(
            &defs,
            &pool_name,
            None,
            &new.extras.set,
            &[],
            super::fields::today(now),
        )?;
        custom
    };
    let id = tx.insert_customer(&f, stage, custom.as_deref(), &place, Some(me.id), now)?;
    if let Some(owner_id) = place.owner_id {
        tx.record_event(&OwnershipEvent {
            customer_id: id,
            event: "claim",
            from_user: None,
            to_user: Some(owner_id),
            by_user: me.id,
            pool_id: place.pool_id,
            reason: None,
            at: now,
        })?;
    }
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action: "customer_add",
        entity: "customer",
        entity_id: Some(id),
        before: None,
        after: Some({
            let mut a = added_fields(&f, stage, owner.as_deref(), pool.as_deref());
            if let Some(c) = &custom {
                a["custom"] = json!(super::fields::custom_map(Some(c)));
            }
            a
        }),
    })?;
    tx.commit()?;
    Ok(Added {
        id,
        fields: f,
        owner,
        pool,
        duplicates,
    })
}

fn added_fields(f: &CustomerFields, stage: &str, owner: Option<&str>, pool: Option<&str>) -> Value {
    json!({
        "name": f.name,
        "company": f.company,
        "phone": audit_value("phone", &f.phone),
        "email": audit_value("email", &f.email),
        "city": f.city,
        "address": audit_value("address", &f.address),
        "source": f.source,
        "tags": f.tags,
        "stage": stage,
        "level": f.level,
        "industry": f.industry,
        "owner": owner,
        "pool": pool,
    })
}

/// One customer as `me` may see it: the contacts are masked by the caller's view; the
/// history beyond ownership changes only where `full`.
#[derive(Debug, Clone)]
pub struct Shown {
    pub customer: Customer,
    /// Whether `me` sees its contacts and its whole history.
    pub full: bool,
    pub timeline: Vec<Event>,
    /// History lines left out (a claim unlocks them).
    pub hidden: usize,
    /// The fields its pool declares, in order.
    pub fields: Vec<fields::FieldDef>,
}

/// Reads one customer with its history; an unmasked read of someone else's customer is
/// audit-logged first.
pub fn show(store: &mut dyn Backend, me: &User, id: i64, now: i64) -> Result<Shown> {
    scope::require(me, Action::ReadCustomers)?;
    let (c, events, declared) = {
        let mut tx = store.read()?;
        let c = tx.customer(id)?;
        scope::readable(&mut *tx, me, &c)?;
        let events = tx.customer_timeline(id)?;
        let declared = tx.fields(c.pool_id)?;
        (c, events, declared)
    };
    let full = decide::sees(me, &c);
    let total = events.len();
    let timeline: Vec<Event> = events
        .into_iter()
        .filter(|e| decide::history_visible(full, &e.kind))
        .map(|mut e| {
            // A release reason is free text ("客户新手机 139…"): masked like the notes
            // for whoever sees the contacts masked.
            if !full {
                e.detail = crate::domain::mask::mask_in_text(&e.detail).into_owned();
            }
            e
        })
        .collect();
    if decide::reveals(&c, me) {
        log_view(store, me, now, Some(c.id), 1, None)?;
    }
    Ok(Shown {
        hidden: total - timeline.len(),
        customer: c,
        full,
        timeline,
        fields: declared,
    })
}

/// What to list or export, as given (names, not ids).
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Some(""): in any pool; Some(name): in that pool.
    pub in_pool: Option<String>,
    pub mine: bool,
    pub owner: Option<String>,
    pub team: Option<String>,
    pub stage: Option<Stage>,
    pub tag: Option<String>,
    pub city: Option<String>,
    pub source: Option<String>,
    pub level: Option<String>,
    pub industry: Option<String>,
    /// `--where KEY OP VALUE` on custom fields.
    pub wheres: Vec<String>,
    pub search: Option<String>,
    pub no_contact_days: Option<u32>,
    /// The query as the audit rows of unmasked reads and exports describe it.
    pub given: Value,
}

/// A query resolved for `me`: names to ids, text normalised, and limited to what `me`
/// may list (the pools their team sees; contact search only where they see contacts).
pub(crate) fn resolve(tx: &mut dyn Tx, me: &User, q: &Query, now: i64) -> Result<ListFilter> {
    let mut f = ListFilter {
        stage: q.stage.map(|s| s.as_str().to_string()),
        tag: q.tag.as_deref().map(|t| tag_key(&parse_tags(t).join(","))),
        city: q.city.as_deref().and_then(clean_text),
        source: q.source.as_deref().and_then(clean_text),
        level: q.level.as_deref().map(fields::level).transpose()?,
        industry: q.industry.as_deref().and_then(clean_text),
        search: q.search.as_deref().and_then(clean_text),
        contact_before: q.no_contact_days.map(|d| now - i64::from(d) * 86_400),
        ..Default::default()
    };
    if let Some(p) = &q.in_pool {
        f.in_pool = Some(if p.is_empty() {
            None
        } else {
            Some(tx.pool_id(p)?)
        });
    }
    f.conditions = super::fields::conditions(
        tx,
        &q.wheres,
        f.in_pool.flatten(),
        super::fields::today(now),
    )?;
    if q.mine {
        f.owner_id = Some(me.id);
    }
    if let Some(o) = &q.owner {
        f.owner_id = Some(tx.user(o)?.id);
    }
    if let Some(t) = &q.team {
        f.team_id = Some(tx.team_id_by_name(t)?);
    }
    (f.visible_to_team, f.contact_scope) = decide::list_scope(me);
    Ok(f)
}

/// A list: the query, its order and at most `limit` rows.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    pub query: Query,
    pub sort: Sort,
    pub desc: bool,
    pub limit: Option<i64>,
}

/// The customers `me` may list that match; unmasked rows of others' customers are
/// audit-logged (one row, with the query) before they are returned.
pub fn list(
    store: &mut dyn Backend,
    me: &User,
    req: &ListRequest,
    now: i64,
) -> Result<Vec<Customer>> {
    scope::require(me, Action::ReadCustomers)?;
    let found = {
        let mut tx = store.read()?;
        let mut f = resolve(&mut *tx, me, &req.query, now)?;
        f.sort = req.sort;
        f.desc = req.desc;
        f.limit = req.limit;
        tx.list_customers(&f)?
    };
    let revealed = found.iter().filter(|c| decide::reveals(c, me)).count();
    if revealed > 0 {
        log_view(
            store,
            me,
            now,
            None,
            revealed,
            Some(req.query.given.clone()),
        )?;
    }
    Ok(found)
}

/// Records an unmasked read of personal data: which customer (or which query) and how
/// many rows.
pub(crate) fn log_view(
    store: &mut dyn Backend,
    me: &User,
    now: i64,
    id: Option<i64>,
    rows: usize,
    filter: Option<Value>,
) -> Result<()> {
    let mut tx = store.write()?;
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action: "view_unmasked",
        entity: if id.is_some() {
            "customer"
        } else {
            "customers"
        },
        entity_id: id,
        before: None,
        after: Some(json!({"rows": rows, "filter": filter})),
    })?;
    tx.commit()?;
    Ok(())
}

/// A change to one customer's fields or stage.
#[derive(Debug, Clone, Default)]
pub struct Edit {
    pub id: i64,
    /// The fields given (None: unchanged).
    pub given: CustomerInput,
    pub stage: Option<Stage>,
    /// Fields to empty (see `customer_rules::CLEARABLE`).
    pub clear: Vec<String>,
    pub extras: Extras,
}

impl Edit {
    fn checked(&self) -> Result<()> {
        let g = &self.given;
        let nothing = [
            &g.name, &g.company, &g.phone, &g.email, &g.city, &g.address, &g.source, &g.tags,
            &g.notes,
        ]
        .iter()
        .all(|f| f.is_none())
            && self.stage.is_none()
            && self.extras.is_empty();
        decide::check_edit_request(nothing, &self.clear)?;
        validate(&self.given, false)?;
        self.extras.checked()?;
        Ok(())
    }
}

/// Checks an edit before anything is written, and says how many open follow-ups
/// churning the customer would cancel (0 when the edit does not churn it), so the caller
/// can ask first.
pub fn edit_followups_to_cancel(store: &mut dyn Backend, me: &User, e: &Edit) -> Result<i64> {
    scope::require(me, Action::EditCustomer)?;
    e.checked()?;
    if e.stage != Some(Stage::Churned) {
        return Ok(0);
    }
    let mut tx = store.read()?;
    scope::customer(&mut *tx, me, e.id)?;
    tx.open_followups(e.id)
}

/// What an edit did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Edited {
    Unchanged,
    /// The fields that changed, in the audit row's order.
    Updated(Vec<String>),
}

/// Changes one customer; `cancel_followups`: churning it cancels its open follow-ups.
pub fn edit(
    store: &mut dyn Backend,
    me: &User,
    e: &Edit,
    cancel_followups: bool,
    now: i64,
) -> Result<Edited> {
    scope::require(me, Action::EditCustomer)?;
    e.checked()?;
    let mut tx = store.write()?;
    let c = scope::customer(&mut *tx, me, e.id)?;
    let current = CustomerInput {
        name: c.name.clone(),
        company: c.company.clone(),
        phone: c.phone.clone(),
        email: c.email.clone(),
        city: c.city.clone(),
        address: c.address.clone(),
        source: c.source.clone(),
        tags: Some(c.tags.clone()),
        notes: c.notes.clone(),
    };
    let mut f = validate(&decide::apply_edit(&current, &e.given, &e.clear), true)?;
    let (level, industry) = e.extras.checked()?;
    let cleared = |name: &str| e.clear.iter().any(|c| c == name);
    f.level = if cleared("level") {
        None
    } else {
        level.or(c.level.clone())
    };
    f.industry = if cleared("industry") {
        None
    } else {
        industry.or(c.industry.clone())
    };
    let stage = e
        .stage
        .map(|s| s.as_str().to_string())
        .unwrap_or(c.stage.clone());
    if stage != c.stage {
        check_stage_change(me.role, &stage, tx.customer_has_deal(c.id)?)?;
    }
    // Editing a customer into a copy of one you gave up would dodge its cooldown.
    if decide::edit_keeps_cooldown(me.role) {
        let rules = tx.rules(c.pool_id)?;
        let keys = (f.keys.phone.as_deref(), f.keys.email.as_deref());
        let twin = lost_twin(&mut *tx, me, c.id, keys, &rules, now)?;
        crate::domain::ownership::check_lost_twin(c.id, &rules, twin, now)?;
    }
    let mut old = validate(&current, false)?;
    old.level = c.level.clone();
    old.industry = c.industry.clone();
    let (mut before, mut after) = changes(&old, &f, &c.stage, &stage);
    let mut custom_changed = None;
    if !e.extras.set.is_empty() || !e.extras.unset.is_empty() {
        let defs = tx.fields(c.pool_id)?;
        let (custom, b, a) = super::fields::apply(
            &defs,
            &c.pool,
            c.custom.as_deref(),
            &e.extras.set,
            &e.extras.unset,
            super::fields::today(now),
        )?;
        if !a.is_empty() {
            before.extend(b);
            after.extend(a);
            custom_changed = Some(custom);
        }
    }
    if after.is_empty() {
        return Ok(Edited::Unchanged);
    }
    tx.update_customer(
        c.id,
        &f,
        &stage,
        custom_changed.as_ref().map(|c| c.as_deref()),
        now,
    )?;
    if cancel_followups {
        let n = tx.cancel_open_followups(c.id, "cancelled: customer churned", now)?;
        after.insert("followups_cancelled".into(), json!(n));
    }
    let fields = after.keys().cloned().collect();
    audit_customer(
        &mut *tx,
        me,
        "customer_edit",
        c.id,
        Value::Object(before),
        Value::Object(after),
        now,
    )?;
    tx.commit()?;
    Ok(Edited::Updated(fields))
}

/// The changed fields before and after, as the audit log keeps them.
fn changes(
    old: &CustomerFields,
    new: &CustomerFields,
    old_stage: &str,
    new_stage: &str,
) -> (Map<String, Value>, Map<String, Value>) {
    let mut before = Map::new();
    let mut after = Map::new();
    let pairs: [(&str, &Option<String>, &Option<String>); 10] = [
        ("name", &old.name, &new.name),
        ("company", &old.company, &new.company),
        ("phone", &old.phone, &new.phone),
        ("email", &old.email, &new.email),
        ("city", &old.city, &new.city),
        ("address", &old.address, &new.address),
        ("source", &old.source, &new.source),
        ("notes", &old.notes, &new.notes),
        ("level", &old.level, &new.level),
        ("industry", &old.industry, &new.industry),
    ];
    for (k, o, n) in pairs {
        if o != n {
            before.insert(k.into(), audit_value(k, o));
            after.insert(k.into(), audit_value(k, n));
        }
    }
    if old.tags != new.tags {
        before.insert("tags".into(), json!(old.tags));
        after.insert("tags".into(), json!(new.tags));
    }
    if old_stage != new_stage {
        before.insert("stage".into(), json!(old_stage));
        after.insert("stage".into(), json!(new_stage));
    }
    (before, after)
}

/// The customer a delete would remove, if `me` may delete it (to ask about it first).
pub fn delete_target(store: &mut dyn Backend, me: &User, id: i64) -> Result<Customer> {
    scope::require(me, Action::DeleteCustomer)?;
    let mut tx = store.read()?;
    scope::customer(&mut *tx, me, id)
}

/// Deletes one customer (a tombstone stays); decided again under the write lock, as it
/// may have changed hands since it was asked about.
pub fn delete(store: &mut dyn Backend, me: &User, id: i64, now: i64) -> Result<()> {
    scope::require(me, Action::DeleteCustomer)?;
    let mut tx = store.write()?;
    let c = scope::customer(&mut *tx, me, id)?;
    if !tx.soft_delete_customer(c.id, now)? {
        return Err(Error::not_found("customer", id));
    }
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action: "customer_delete",
        entity: "customer",
        entity_id: Some(c.id),
        before: Some(json!({"name": c.name, "company": c.company, "owner": c.owner})),
        after: None,
    })?;
    tx.commit()?;
    Ok(())
}

/// What `pool forget` erases; the audit row names these, never the values.
pub const ERASED_FIELDS: [&str; 7] = [
    "name", "phone", "email", "address", "notes", "custom", "tags",
];

/// What a forget did.
#[derive(Debug, Clone, Serialize)]
pub struct Forgotten {
    pub id: i64,
    pub erased_fields: Vec<&'static str>,
    pub counts: ForgetCounts,
    /// Contact people removed.
    pub contacts: usize,
}

/// Checks that a customer (deleted ones too) can be erased by `me`, to ask first.
pub fn forget_target(store: &mut dyn Backend, me: &User, id: i64) -> Result<()> {
    scope::require(me, Action::ForgetCustomer)?;
    let mut tx = store.read()?;
    erasable(&mut *tx, me, id)
}

fn erasable(tx: &mut dyn Tx, me: &User, id: i64) -> Result<()> {
    let c = tx
        .find_customer(id)?
        .ok_or_else(|| Error::not_found("customer", id))?;
    scope::check(tx, me, &c)?;
    decide::check_not_erased(&c)
}

/// Erases a customer's personal data for a deletion request (PIPL / GDPR), then has the
/// backend drop the old bytes from its files.
pub fn forget(store: &mut dyn Backend, me: &User, id: i64, now: i64) -> Result<Forgotten> {
    scope::require(me, Action::ForgetCustomer)?;
    let mut tx = store.write()?;
    erasable(&mut *tx, me, id)?;
    // Contact people are personal data through and through: their rows go.
    let contacts = tx.forget_contacts(id)?;
    let counts = tx.forget_customer(id, now)?;
    let erased = ERASED_FIELDS.to_vec();
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action: "forget",
        entity: "customer",
        entity_id: Some(id),
        before: None,
        after: Some(json!({"erased_fields": erased, "counts": counts, "contacts": contacts})),
    })?;
    tx.commit()?;
    // Best effort: a reader still open can delay it; the erasure itself has committed.
    let _ = store.purge_erased();
    Ok(Forgotten {
        id,
        erased_fields: erased,
        counts,
        contacts,
    })
}

#[cfg(test)]
mod tests {
    //! The use cases against a temporary store, without the binary.
    use super::*;
    use crate::domain::roles::Role;
    use crate::store::sqlite::{audit, teams, users};
    use crate::store::Store;

    struct Env {
        _dir: tempfile::TempDir,
        store: Store,
    }

    fn env() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("pool.db")).unwrap();
        Env { _dir: dir, store }
    }

    fn user(store: &mut Store, login: &str, team: &str, role: Role) -> User {
        let t = teams::ensure(&store.conn, team, 0).unwrap();
        users::insert(&store.conn, login, None, t, role, 0).unwrap();
        users::get(&store.conn, login).unwrap()
    }

    fn actions(store: &Store, id: i64) -> Vec<String> {
        let f = crate::store::LogFilter {
            customer: Some(id),
            ..Default::default()
        };
        let mut rows: Vec<String> = audit::list(&store.conn, &f)
            .unwrap()
            .into_iter()
            .map(|r| r.action)
            .collect();
        rows.reverse();
        rows
    }

    fn new(name: &str, phone: &str, place: Place) -> NewCustomer {
        NewCustomer {
            input: CustomerInput {
                name: Some(name.into()),
                phone: Some(phone.into()),
                ..CustomerInput::default()
            },
            stage: Stage::Lead,
            place,
            extras: Extras::default(),
        }
    }

    #[test]
    fn a_customer_is_added_edited_deleted_and_each_change_is_audited() {
        let mut e = env();
        let li = user(&mut e.store, "lihua", "east", Role::Member);
        let id = add(
            &mut e.store,
            &li,
            &new("张伟", "13800138000", Place::Mine),
            100,
        )
        .unwrap()
        .id;
        let edit_city = Edit {
            id,
            given: CustomerInput {
                city: Some("杭州".into()),
                ..CustomerInput::default()
            },
            ..Edit::default()
        };
        assert_eq!(
            edit(&mut e.store, &li, &edit_city, false, 200).unwrap(),
            Edited::Updated(vec!["city".into()])
        );
        assert_eq!(
            edit(&mut e.store, &li, &edit_city, false, 300).unwrap(),
            Edited::Unchanged
        );
        // Members may not delete; a manager of the team may.
        assert!(matches!(
            delete(&mut e.store, &li, id, 400),
            Err(Error::PermissionDenied { .. })
        ));
        let boss = user(&mut e.store, "boss", "east", Role::Manager);
        delete(&mut e.store, &boss, id, 400).unwrap();
        assert_eq!(
            actions(&e.store, id),
            ["customer_add", "customer_edit", "customer_delete"]
        );
    }

    #[test]
    fn another_members_customer_is_shown_masked_and_not_edited() {
        let mut e = env();
        let li = user(&mut e.store, "lihua", "east", Role::Member);
        let wang = user(&mut e.store, "wang", "east", Role::Member);
        let id = add(
            &mut e.store,
            &li,
            &new("张伟", "13800138000", Place::Mine),
            100,
        )
        .unwrap()
        .id;
        let shown = show(&mut e.store, &wang, id, 200).unwrap();
        assert!(!shown.full);
        let e2 = Edit {
            id,
            stage: Some(Stage::Churned),
            ..Edit::default()
        };
        assert!(matches!(
            edit_followups_to_cancel(&mut e.store, &wang, &e2),
            Err(Error::Forbidden(_))
        ));
        // The owner's own read reveals nothing new: no view_unmasked row.
        show(&mut e.store, &li, id, 300).unwrap();
        assert_eq!(actions(&e.store, id), ["customer_add"]);
        // A manager's unmasked read is recorded.
        let boss = user(&mut e.store, "boss", "east", Role::Manager);
        assert!(show(&mut e.store, &boss, id, 400).unwrap().full);
        assert_eq!(actions(&e.store, id), ["customer_add", "view_unmasked"]);
    }

    #[test]
    fn forget_erases_once() {
        let mut e = env();
        let admin = user(&mut e.store, "root", "default", Role::Admin);
        let id = add(
            &mut e.store,
            &admin,
            &new("张伟", "13800138000", Place::Pool("public".into())),
            100,
        )
        .unwrap()
        .id;
        forget_target(&mut e.store, &admin, id).unwrap();
        let done = forget(&mut e.store, &admin, id, 200).unwrap();
        assert_eq!(done.erased_fields, ERASED_FIELDS);
        assert!(matches!(
            forget_target(&mut e.store, &admin, id),
            Err(Error::AlreadyErased { .. })
        ));
    }
}
