//! `pool add|show|list|edit|delete` (also under `pool customer`).
use std::io::IsTerminal;

use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::output::confirm;
use super::Ctx;
use crate::clock::iso_ts;
use crate::domain::customer::{validate, CustomerFields, CustomerInput, Stage};
use crate::domain::mask::{mask_address, mask_email, mask_phone};
use crate::domain::roles::{may_work_on, sees_contact, Action, Role};
use crate::domain::rules::day_start;
use crate::error::{Error, Result};
use crate::store::customers::{self, Customer, ListFilter, Placement, Sort};
use crate::store::User;
use crate::store::{audit, pool, teams, users, work};

#[derive(Debug, Subcommand)]
pub enum CustomerCommand {
    /// Add a customer
    Add(AddArgs),
    /// Show one customer
    Show(ShowArgs),
    /// List customers, with filters
    #[command(alias = "ls")]
    List(ListArgs),
    /// Change a customer's fields
    Edit(EditArgs),
    /// Delete a customer (kept as a tombstone)
    Delete(DeleteArgs),
}

pub fn run(ctx: &mut Ctx, cmd: CustomerCommand) -> Result<()> {
    match cmd {
        CustomerCommand::Add(a) => add(ctx, &a),
        CustomerCommand::Show(a) => show(ctx, &a),
        CustomerCommand::List(a) => list(ctx, &a),
        CustomerCommand::Edit(a) => edit(ctx, &a),
        CustomerCommand::Delete(a) => delete(ctx, &a),
    }
}

/// The editable fields, shared by `add` and `edit`.
#[derive(Debug, Clone, Default, Args)]
pub struct FieldArgs {
    /// Contact person, e.g. 张伟
    #[arg(long)]
    pub name: Option<String>,
    /// Company, e.g. 杭州云帆科技有限公司
    #[arg(long)]
    pub company: Option<String>,
    /// Phone (any format: +86 138-0013-8000, 13800138000, 0571-88886666)
    #[arg(long)]
    pub phone: Option<String>,
    /// E-mail
    #[arg(long)]
    pub email: Option<String>,
    /// City, e.g. 杭州
    #[arg(long)]
    pub city: Option<String>,
    /// Address
    #[arg(long)]
    pub address: Option<String>,
    /// Where the lead came from, e.g. 展会
    #[arg(long)]
    pub source: Option<String>,
    /// Tags, comma or 、 separated
    #[arg(long)]
    pub tags: Option<String>,
    /// Free notes
    #[arg(long)]
    pub notes: Option<String>,
}

impl FieldArgs {
    fn input(&self) -> CustomerInput {
        CustomerInput {
            name: self.name.clone(),
            company: self.company.clone(),
            phone: self.phone.clone(),
            email: self.email.clone(),
            city: self.city.clone(),
            address: self.address.clone(),
            source: self.source.clone(),
            tags: self.tags.clone(),
            notes: self.notes.clone(),
        }
    }

    fn is_empty(&self) -> bool {
        self.input_fields().iter().all(|f| f.is_none())
    }

    fn input_fields(&self) -> [&Option<String>; 9] {
        [
            &self.name,
            &self.company,
            &self.phone,
            &self.email,
            &self.city,
            &self.address,
            &self.source,
            &self.tags,
            &self.notes,
        ]
    }
}

#[derive(Debug, Args)]
pub struct AddArgs {
    #[command(flatten)]
    pub fields: FieldArgs,
    /// Lifecycle stage
    #[arg(long, value_enum, default_value_t = Stage::Lead)]
    pub stage: Stage,
    /// Put the customer in this pool (unowned) instead of owning it yourself
    #[arg(long, value_name = "POOL", num_args = 0..=1, default_missing_value = "public")]
    pub pool: Option<String>,
    /// Give the customer to this user (manager/admin)
    #[arg(long, value_name = "USER", conflicts_with = "pool")]
    pub owner: Option<String>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Customer id
    pub id: i64,
}

/// The filters shared by `pool list` and `pool export`. Serialised (the ones given
/// only) into the audit rows of unmasked reads and exports.
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct FilterArgs {
    /// Only customers in a pool (any pool, or the one named)
    #[arg(long, value_name = "POOL", num_args = 0..=1, default_missing_value = "")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_pool: Option<String>,
    /// Only my customers
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub mine: bool,
    /// Only customers of this owner
    #[arg(long, value_name = "USER")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Only customers owned by members of this team
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Only this stage
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
    /// Only customers with this tag
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Only this city
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Only this source
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Text in name or company, or in phone or e-mail where you see them unmasked;
    /// elsewhere only a whole phone number or e-mail address matches
    #[arg(long, value_name = "TEXT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
    /// Not contacted for at least N days
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_contact_days: Option<u32>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub filters: FilterArgs,
    /// Sort by
    #[arg(long, value_enum, default_value_t = Sort::Id)]
    pub sort: Sort,
    /// Sort descending
    #[arg(long)]
    pub desc: bool,
    /// At most N rows (0 = all)
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    /// Customer id
    pub id: i64,
    #[command(flatten)]
    pub fields: FieldArgs,
    /// New lifecycle stage
    #[arg(long, value_enum)]
    pub stage: Option<Stage>,
    /// Empty a field (repeatable): company, phone, email, city, address, source, tags, notes
    #[arg(long, value_name = "FIELD")]
    pub clear: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ForgetArgs {
    /// Customer id
    pub id: i64,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Customer id
    pub id: i64,
}

/// A customer as one list row, with personal data masked per the viewer.
#[derive(Debug, Serialize)]
pub struct CustomerRow {
    pub id: i64,
    pub name: Option<String>,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub city: Option<String>,
    pub stage: String,
    pub tags: String,
    pub owner: Option<String>,
    pub pool: Option<String>,
    pub last_contact: Option<String>,
}

/// Whether `viewer` sees `c`'s contacts unmasked (the one scope rule, `sees_contact`).
pub fn sees(viewer: &User, c: &Customer) -> bool {
    sees_contact(
        viewer.role,
        viewer.id,
        viewer.team_id,
        c.owner_id,
        c.owner_team_id,
    )
}

/// Applies pool privacy: phone, e-mail and address masked unless the viewer may see them.
pub fn masked(c: &Customer, viewer: &User) -> (Option<String>, Option<String>, Option<String>) {
    if sees(viewer, c) {
        (c.phone.clone(), c.email.clone(), c.address.clone())
    } else {
        (
            c.phone.as_deref().map(mask_phone),
            c.email.as_deref().map(mask_email),
            c.address.as_deref().map(mask_address),
        )
    }
}

/// Whether showing `c` to `viewer` reveals someone else's personal data unmasked
/// (an access the audit log records).
pub fn reveals(c: &Customer, viewer: &User) -> bool {
    c.owner_id != Some(viewer.id)
        && sees(viewer, c)
        && (c.phone.is_some() || c.email.is_some() || c.address.is_some())
}

/// Records an unmasked read of personal data: which customer (or which filter) and how many.
pub fn log_view(
    store: &mut crate::store::Store,
    me: &User,
    now: i64,
    id: Option<i64>,
    rows: usize,
    filter: Option<Value>,
) -> Result<()> {
    let tx = store.begin()?;
    audit::append(
        &tx,
        audit::Record {
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
        },
    )?;
    tx.commit()?;
    Ok(())
}

pub fn row(c: &Customer, viewer: &User) -> CustomerRow {
    let (phone, email, _) = masked(c, viewer);
    CustomerRow {
        id: c.id,
        name: c.name.clone(),
        company: c.company.clone(),
        phone,
        email,
        city: c.city.clone(),
        stage: c.stage.clone(),
        tags: c.tags.clone(),
        owner: c.owner.clone(),
        pool: if c.owner_id.is_none() {
            Some(c.pool.clone())
        } else {
            None
        },
        last_contact: iso_ts(c.last_contact_at),
    }
}

/// Free text (notes, custom values) as shown where contacts are shown (`reveal`) or
/// masked: phone numbers and e-mail addresses inside it are masked too.
pub fn shown_text(reveal: bool, text: &str) -> std::borrow::Cow<'_, str> {
    if reveal {
        std::borrow::Cow::Borrowed(text)
    } else {
        crate::domain::mask::mask_in_text(text)
    }
}

/// Custom fields as shown: string values through `shown_text`.
pub fn shown_value(reveal: bool, v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(shown_text(reveal, s).into_owned()),
        other => other.clone(),
    }
}

/// Every field of one customer, masked per the viewer.
pub fn detail(c: &Customer, viewer: &User) -> Map<String, Value> {
    let (phone, email, address) = masked(c, viewer);
    let reveal = sees(viewer, c);
    let mut m = Map::new();
    m.insert("id".into(), json!(c.id));
    m.insert("name".into(), json!(c.name));
    m.insert("company".into(), json!(c.company));
    m.insert("phone".into(), json!(phone));
    m.insert("email".into(), json!(email));
    m.insert("city".into(), json!(c.city));
    m.insert("address".into(), json!(address));
    m.insert("source".into(), json!(c.source));
    m.insert("stage".into(), json!(c.stage));
    m.insert("tags".into(), json!(c.tags));
    m.insert(
        "notes".into(),
        json!(c.notes.as_deref().map(|n| shown_text(reveal, n))),
    );
    if let Some(Value::Object(custom)) = c
        .custom
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
    {
        for (k, v) in custom {
            m.insert(format!("custom.{k}"), shown_value(reveal, &v));
        }
    }
    m.insert("owner".into(), json!(c.owner));
    m.insert("pool".into(), json!(c.pool));
    m.insert("previous_owner".into(), json!(c.previous_owner));
    m.insert("locked".into(), json!(c.locked));
    m.insert("created".into(), json!(iso_ts(Some(c.created_at))));
    m.insert("updated".into(), json!(iso_ts(Some(c.updated_at))));
    m.insert("claimed".into(), json!(iso_ts(c.claimed_at)));
    m.insert("last_contact".into(), json!(iso_ts(c.last_contact_at)));
    m.insert("released".into(), json!(iso_ts(c.released_at)));
    m
}

/// A value as the audit log keeps it: personal data masked, so erasing a customer later
/// does not have to rewrite the append-only chain.
pub use crate::app::audit_value;

fn prompt_missing(input: &mut CustomerInput) -> Result<()> {
    let ask = |label: &str| -> Result<Option<String>> {
        let s: String = dialoguer::Input::new()
            .with_prompt(label)
            .allow_empty(true)
            .interact_text()
            .map_err(|e| Error::Other(format!("prompt failed: {e}")))?;
        Ok(Some(s).filter(|s| !s.trim().is_empty()))
    };
    if input.name.is_none() {
        input.name = ask("Name (姓名)")?;
    }
    if input.company.is_none() {
        input.company = ask("Company (公司)")?;
    }
    if input.phone.is_none() {
        input.phone = ask("Phone (电话)")?;
    }
    if input.email.is_none() {
        input.email = ask("E-mail (邮箱)")?;
    }
    if input.city.is_none() {
        input.city = ask("City (城市)")?;
    }
    Ok(())
}

#[derive(Serialize)]
struct Added {
    id: i64,
    name: Option<String>,
    company: Option<String>,
    owner: Option<String>,
    pool: Option<String>,
    possible_duplicates: Vec<i64>,
}

pub fn add(ctx: &mut Ctx, a: &AddArgs) -> Result<()> {
    let me = ctx.require(Action::AddCustomer)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let mut input = a.fields.input();
    if input.name.is_none()
        && input.company.is_none()
        && std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal()
    {
        prompt_missing(&mut input)?;
    }
    let f = validate(&input, true)?;
    if a.owner.is_some() && !crate::domain::roles::allowed(me.role, Action::Assign) {
        return Err(Error::PermissionDenied {
            role: me.role.as_str().into(),
            action: "add customers for another owner".into(),
        });
    }
    let tx = ctx.store()?.begin()?;
    let (place, owner_name, pool_name) = match (&a.owner, &a.pool) {
        (Some(o), _) => {
            let u = users::get(&tx, o)?;
            if !u.active {
                return Err(Error::invalid("--owner", format!("'{o}' is deactivated")));
            }
            if me.role == Role::Manager && u.team_id != me.team_id {
                return Err(Error::Forbidden(format!("'{o}' is not in your team")));
            }
            (
                Placement {
                    pool_id: 1,
                    owner_id: Some(u.id),
                },
                Some(u.login),
                None,
            )
        }
        (None, Some(p)) => {
            let pid = pool::pool_id(&tx, p)?;
            if me.role != Role::Admin && !pool::visible(&tx, pid, me.team_id)? {
                return Err(Error::PoolNotVisible {
                    pool: p.clone(),
                    team: me.team.clone(),
                });
            }
            (
                Placement {
                    pool_id: pid,
                    owner_id: None,
                },
                None,
                Some(p.clone()),
            )
        }
        (None, None) => (
            Placement {
                pool_id: 1,
                owner_id: Some(me.id),
            },
            Some(me.login.clone()),
            None,
        ),
    };
    // Adding a customer for yourself is taking one: the stage rule and the pool's claim
    // rules apply (max_owned, the daily cap), and a copy of a customer you gave up (same
    // phone or e-mail) is refused while its re-claim cooldown runs.
    // A new customer has no deal: a member adds leads (or churned), in a pool or not.
    crate::domain::rules::check_stage_change(me.role, a.stage.as_str(), false)?;
    if place.owner_id == Some(me.id) {
        let rules = pool::rules(&tx, place.pool_id)?;
        let keys = (f.keys.phone.as_deref(), f.keys.email.as_deref());
        let twin = match crate::domain::ownership::lost_twin_since(&rules, now) {
            Some(since) => pool::lost_twin(&tx, me.id, keys.0, keys.1, 0, since)?,
            None => None,
        };
        crate::domain::ownership::check_lost_twin(0, &rules, twin, now)?;
        let mut facts =
            pool::claim_facts(&tx, 0, None, me.id, place.pool_id, &rules, day_start(now))?;
        if !crate::domain::rules::counts_towards_limit(&rules, a.stage.as_str()) {
            facts.owned = 0;
        }
        crate::domain::rules::check_claim(&rules, &facts, &me.login, "public", now)?;
    }
    // The dedupe model, on the indexed neighbours only (same phone, e-mail or name):
    // catches 张伟/杭州云帆科技有限公司 vs 张伟/杭州云帆科技 and stays instant.
    let model = super::dedupe::model_for(&tx)?;
    let me_as_record = crate::domain::matching::Record::from_fields(0, &f, None);
    let dups: Vec<(i64, String)> = crate::store::dedupe::neighbours(&tx, &f.keys, 50)?
        .iter()
        .filter_map(|r| {
            let e = model.explain(&me_as_record, r);
            (e.probability >= crate::domain::matching::WARN_THRESHOLD).then(|| {
                (
                    r.id,
                    format!("probability {:.3}: {}", e.probability, e.reasons()),
                )
            })
        })
        .collect();
    let id = customers::insert(&tx, &f, a.stage.as_str(), None, &place, Some(me.id), now)?;
    if let Some(owner) = place.owner_id {
        pool::record_event(
            &tx,
            id,
            "claim",
            None,
            Some(owner),
            me.id,
            place.pool_id,
            None,
            now,
        )?;
    }
    audit::append(
        &tx,
        audit::Record {
            at: now,
            actor: &me.login,
            action: "customer_add",
            entity: "customer",
            entity_id: Some(id),
            before: None,
            after: Some(audit_fields(
                &f,
                a.stage.as_str(),
                owner_name.as_deref(),
                pool_name.as_deref(),
            )),
        },
    )?;
    tx.commit()?;
    for (d, why) in &dups {
        out.warn(format!(
            "customer {id} looks like a duplicate of customer {d} ({why}); see pool show {d}"
        ));
    }
    out.status(format!("added customer {id}"));
    out.record(&Added {
        id,
        name: f.name,
        company: f.company,
        owner: owner_name,
        pool: pool_name,
        possible_duplicates: dups.iter().map(|(d, _)| *d).collect(),
    })
}

fn audit_fields(f: &CustomerFields, stage: &str, owner: Option<&str>, pool: Option<&str>) -> Value {
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
        "owner": owner,
        "pool": pool,
    })
}

pub fn show(ctx: &mut Ctx, a: &ShowArgs) -> Result<()> {
    let me = ctx.require(Action::ReadCustomers)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let store = ctx.store()?;
    let c = customers::get(&store.conn, a.id)?;
    if c.owner_id.is_none()
        && !pool::visible(&store.conn, c.pool_id, me.team_id)?
        && me.role != Role::Admin
    {
        return Err(Error::PoolNotVisible {
            pool: c.pool.clone(),
            team: me.team.clone(),
        });
    }
    // History is part of what a claim unlocks: before it, only the owner changes show.
    let full = sees(&me, &c);
    let mut hidden = 0;
    let timeline: Vec<TimelineRow> = work::timeline(&store.conn, c.id)?
        .into_iter()
        .filter(|e| {
            let keep = full || OWNER_EVENTS.contains(&e.kind.as_str());
            hidden += usize::from(!keep);
            keep
        })
        .map(|e| TimelineRow {
            at: iso_ts(Some(e.at)).unwrap_or_default(),
            what: e.kind,
            by: e.by,
            detail: e.detail,
        })
        .collect();
    if reveals(&c, &me) {
        log_view(store, &me, now, Some(c.id), 1, None)?;
    }
    let mut m = detail(&c, &me);
    if out.is_json() {
        m.insert("timeline".into(), serde_json::to_value(&timeline)?);
        m.insert("timeline_hidden".into(), json!(hidden));
        return out.record(&m);
    }
    out.record(&m)?;
    out.section("Timeline (newest first)", &timeline)?;
    if hidden > 0 {
        out.status(format!("{hidden} interaction(s), follow-up(s) and deal(s) hidden: claim the customer to see its history"));
    }
    Ok(())
}

const OWNER_EVENTS: [&str; 8] = [
    "claim",
    "release",
    "recycle",
    "assign",
    "transfer",
    "deactivate",
    "merge",
    "import",
];

#[derive(Serialize)]
struct TimelineRow {
    at: String,
    what: String,
    by: Option<String>,
    detail: String,
}

/// Resolves the filter arguments into a store filter, for the acting user.
pub fn filter(
    conn: &rusqlite::Connection,
    me: &User,
    a: &FilterArgs,
    now: i64,
) -> Result<ListFilter> {
    let mut f = ListFilter {
        stage: a.stage.map(|s| s.as_str().to_string()),
        tag: a
            .tag
            .as_deref()
            .map(|t| crate::domain::normalize::parse_tags(t).join(",")),
        city: a
            .city
            .as_deref()
            .and_then(crate::domain::normalize::clean_text),
        source: a
            .source
            .as_deref()
            .and_then(crate::domain::normalize::clean_text),
        search: a
            .search
            .as_deref()
            .and_then(crate::domain::normalize::clean_text),
        contact_before: a.no_contact_days.map(|d| now - i64::from(d) * 86_400),
        ..Default::default()
    };
    if let Some(p) = &a.in_pool {
        f.in_pool = Some(if p.is_empty() {
            None
        } else {
            Some(pool::pool_id(conn, p)?)
        });
    }
    if a.mine {
        f.owner_id = Some(me.id);
    }
    if let Some(o) = &a.owner {
        f.owner_id = Some(users::get(conn, o)?.id);
    }
    if let Some(t) = &a.team {
        f.team_id = Some(teams::get(conn, t)?);
    }
    if me.role != Role::Admin {
        f.visible_to_team = Some(me.team_id);
    }
    f.contact_scope = crate::domain::roles::contact_scope(me.role, me.id, me.team_id);
    Ok(f)
}

pub fn list(ctx: &mut Ctx, a: &ListArgs) -> Result<()> {
    let me = ctx.require(Action::ReadCustomers)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let store = ctx.store()?;
    let mut f = filter(&store.conn, &me, &a.filters, now)?;
    f.sort = a.sort;
    f.desc = a.desc;
    f.limit = if a.limit > 0 { Some(a.limit) } else { None };
    let found = customers::list(&store.conn, &f)?;
    let revealed = found.iter().filter(|c| reveals(c, &me)).count();
    let rows: Vec<CustomerRow> = found.iter().map(|c| row(c, &me)).collect();
    // Recorded before anything is printed: no unmasked byte leaves without its row.
    if revealed > 0 {
        log_view(
            store,
            &me,
            now,
            None,
            revealed,
            Some(serde_json::to_value(&a.filters)?),
        )?;
    }
    out.rows(&rows, "no customers match")?;
    if f.limit == Some(rows.len() as i64) && out.format == super::output::Format::Table {
        out.status(format!("(first {} shown; --limit 0 shows all)", rows.len()));
    }
    Ok(())
}

/// Refuses work on a customer the user may not touch, with the reason.
///
/// The one scope rule for changes: the owner-and-team rule of `may_work_on`, and for a
/// pooled customer a pool the actor's team may see (a manager of another team may not
/// edit, merge, delete or import into a team pool they cannot even list).
pub fn check_scope(conn: &rusqlite::Connection, me: &User, c: &Customer) -> Result<()> {
    if c.owner_id.is_none()
        && me.role != Role::Admin
        && !pool::visible(conn, c.pool_id, me.team_id)?
    {
        return Err(Error::Forbidden(format!(
            "customer {} is in a pool your team does not see",
            c.id
        )));
    }
    if may_work_on(me.role, me.id, me.team_id, c.owner_id, c.owner_team_id) {
        return Ok(());
    }
    Err(match &c.owner {
        None => Error::Forbidden(format!(
            "customer {} is in the pool '{}'; claim it first (pool claim {})",
            c.id, c.pool, c.id
        )),
        Some(o) => Error::Forbidden(format!("customer {} belongs to {o}", c.id)),
    })
}

const CLEARABLE: [&str; 8] = [
    "company", "phone", "email", "city", "address", "source", "tags", "notes",
];

pub fn edit(ctx: &mut Ctx, a: &EditArgs) -> Result<()> {
    let me = ctx.require(Action::EditCustomer)?;
    let now = ctx.now()?;
    let out = ctx.out;
    if a.fields.is_empty() && a.stage.is_none() && a.clear.is_empty() {
        return Err(Error::Usage(
            "nothing to change: pass a field such as --phone or --stage".into(),
        ));
    }
    for c in &a.clear {
        if !CLEARABLE.contains(&c.as_str()) {
            return Err(Error::invalid(
                "--clear",
                format!("'{c}' is not one of {}", CLEARABLE.join(", ")),
            ));
        }
    }
    // Fail on a bad value before the write lock is taken.
    validate(&a.fields.input(), false)?;
    // Churned customers need no plans: ask before the write lock, cancel inside it.
    let mut cancel_plans = false;
    if a.stage == Some(Stage::Churned) {
        let open = pool::open_followups(&ctx.store()?.conn, a.id)?;
        if open > 0 {
            if !confirm(
                ctx.global.yes,
                &format!(
                    "customer {} has {open} open follow-up(s); cancel them?",
                    a.id
                ),
            )? {
                out.status("nothing changed");
                return Ok(());
            }
            cancel_plans = true;
        }
    }
    let tx = ctx.store()?.begin()?;
    let c = customers::get(&tx, a.id)?;
    check_scope(&tx, &me, &c)?;
    // Start from the stored values and apply what was given.
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
    let mut next = current.clone();
    let given = a.fields.input();
    macro_rules! apply {
        ($($f:ident),*) => {$(
            if given.$f.is_some() { next.$f = given.$f.clone(); }
            if a.clear.iter().any(|c| c == stringify!($f)) { next.$f = None; }
        )*};
    }
    apply!(name, company, phone, email, city, address, source, tags, notes);
    let f = validate(&next, true)?;
    let stage = a
        .stage
        .map(|s| s.as_str().to_string())
        .unwrap_or(c.stage.clone());
    if stage != c.stage {
        crate::domain::rules::check_stage_change(me.role, &stage, pool::has_deal(&tx, c.id)?)?;
    }
    // Editing a customer into a copy of one you gave up (same phone or e-mail) would
    // dodge its re-claim cooldown.
    if me.role != Role::Admin && me.role != Role::Manager {
        let rules = pool::rules(&tx, c.pool_id)?;
        let keys = (f.keys.phone.as_deref(), f.keys.email.as_deref());
        let twin = match crate::domain::ownership::lost_twin_since(&rules, now) {
            Some(since) => pool::lost_twin(&tx, me.id, keys.0, keys.1, c.id, since)?,
            None => None,
        };
        crate::domain::ownership::check_lost_twin(c.id, &rules, twin, now)?;
    }
    let old = validate(&current, false)?;
    let mut before = Map::new();
    let mut after = Map::new();
    let pairs: [(&str, &Option<String>, &Option<String>); 8] = [
        ("name", &old.name, &f.name),
        ("company", &old.company, &f.company),
        ("phone", &old.phone, &f.phone),
        ("email", &old.email, &f.email),
        ("city", &old.city, &f.city),
        ("address", &old.address, &f.address),
        ("source", &old.source, &f.source),
        ("notes", &old.notes, &f.notes),
    ];
    for (k, o, n) in pairs {
        if o != n {
            before.insert(k.into(), audit_value(k, o));
            after.insert(k.into(), audit_value(k, n));
        }
    }
    if old.tags != f.tags {
        before.insert("tags".into(), json!(old.tags));
        after.insert("tags".into(), json!(f.tags));
    }
    if stage != c.stage {
        before.insert("stage".into(), json!(c.stage));
        after.insert("stage".into(), json!(stage));
    }
    if after.is_empty() {
        out.status(format!("customer {} unchanged", c.id));
        return Ok(());
    }
    customers::update_fields(&tx, c.id, &f, &stage, now)?;
    if cancel_plans {
        let n = pool::cancel_open_followups(&tx, c.id, "cancelled: customer churned", now)?;
        after.insert("followups_cancelled".into(), json!(n));
    }
    audit::append(
        &tx,
        audit::Record {
            at: now,
            actor: &me.login,
            action: "customer_edit",
            entity: "customer",
            entity_id: Some(c.id),
            before: Some(Value::Object(before)),
            after: Some(Value::Object(after.clone())),
        },
    )?;
    tx.commit()?;
    out.status(format!(
        "customer {} updated: {}",
        c.id,
        after.keys().cloned().collect::<Vec<_>>().join(", ")
    ));
    Ok(())
}

pub fn delete(ctx: &mut Ctx, a: &DeleteArgs) -> Result<()> {
    let me = ctx.require(Action::DeleteCustomer)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let yes = ctx.global.yes;
    let label = {
        let store = ctx.store()?;
        let c = customers::get(&store.conn, a.id)?;
        check_scope(&store.conn, &me, &c)?;
        format!(
            "{} {}",
            c.name.as_deref().unwrap_or(""),
            c.company.as_deref().unwrap_or("")
        )
    };
    if !confirm(
        yes,
        &format!("delete customer {} ({})?", a.id, label.trim()),
    )? {
        out.status("nothing deleted");
        return Ok(());
    }
    let tx = ctx.store()?.begin()?;
    let c = customers::get(&tx, a.id)?;
    // Decided again under the write lock: it may have changed hands since the prompt.
    check_scope(&tx, &me, &c)?;
    if !customers::soft_delete(&tx, c.id, now)? {
        return Err(Error::not_found("customer", a.id));
    }
    audit::append(
        &tx,
        audit::Record {
            at: now,
            actor: &me.login,
            action: "customer_delete",
            entity: "customer",
            entity_id: Some(c.id),
            before: Some(json!({"name": c.name, "company": c.company, "owner": c.owner})),
            after: None,
        },
    )?;
    tx.commit()?;
    out.status(format!("deleted customer {}", a.id));
    Ok(())
}

#[derive(Serialize)]
struct Forgotten {
    id: i64,
    erased_fields: Vec<&'static str>,
    interactions: usize,
    followups: usize,
}

/// `pool forget ID`: erase a customer's personal data for a deletion request (PIPL /
/// GDPR). The audit row names the fields, never the values.
pub fn forget(ctx: &mut Ctx, a: &ForgetArgs) -> Result<()> {
    let me = ctx.require(Action::ForgetCustomer)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let yes = ctx.global.yes;
    let store = ctx.store()?;
    let c =
        customers::find(&store.conn, a.id)?.ok_or_else(|| Error::not_found("customer", a.id))?;
    if c.merged_into.is_none()
        && c.name.is_none()
        && c.phone.is_none()
        && c.email.is_none()
        && c.deleted_at.is_some()
    {
        return Err(Error::Conflict(format!(
            "customer {} is already erased",
            a.id
        )));
    }
    if !confirm(
        yes,
        &format!("erase all personal data of customer {} for good?", a.id),
    )? {
        out.status("nothing erased");
        return Ok(());
    }
    let tx = store.begin()?;
    let counts = customers::forget(&tx, a.id, now)?;
    let erased = vec![
        "name", "phone", "email", "address", "notes", "custom", "tags",
    ];
    audit::append(
        &tx,
        audit::Record {
            at: now,
            actor: &me.login,
            action: "forget",
            entity: "customer",
            entity_id: Some(a.id),
            before: None,
            after: Some(json!({"erased_fields": erased, "counts": counts})),
        },
    )?;
    tx.commit()?;
    // Move the new page images into the file and empty the WAL, so the old bytes are
    // gone from both files (best effort: a reader still open can delay it).
    let _ = store.checkpoint();
    out.status(format!(
        "customer {} erased; a tombstone stays for the audit trail",
        a.id
    ));
    out.record(&Forgotten {
        id: a.id,
        erased_fields: erased,
        interactions: counts.interactions,
        followups: counts.followups,
    })
}
