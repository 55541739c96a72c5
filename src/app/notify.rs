//! `pool notify` (for cron) and its configuration: each person's digest — their overdue
//! follow-ups, customers recycled from them since the last successful run, customers
//! about to be recycled; for managers and admins also the team's overdue follow-ups,
//! escalations and flagged over-access — delivered on their team's channels.
//!
//! A run reads everything in one snapshot, delivers outside any transaction (the network
//! may be slow; retries wait), then records the run, what each channel was sent and an
//! audit row in one transaction. A channel is sent only the items it has not had, so a
//! second run with nothing new sends nothing. A digest that was delivered but not
//! recorded (the process killed in between) is sent again: at least once, never lost.
use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use super::agenda::recycle_soon;
use super::report::access_rows;
use super::scope;
use crate::clock::iso_ts;
use crate::domain::mask::{mask_email, mask_phone};
use crate::domain::notify::{
    self as rules, check_run, days_overdue, markdown, title, webhook_body, AccessItem, Digest,
    DueItem, Preset, RecycledItem, SoonItem,
};
use crate::domain::roles::{Action, Role, User};
use crate::error::{Error, Result};
use crate::store::ops::audit::Record;
use crate::store::ops::notify::{Channel, NewChannel, RunRow};
use crate::store::ops::work::{Followup, FollowupFilter};
use crate::store::{Backend, Tx};

/// One message for a courier to carry.
#[derive(Debug, Clone)]
pub enum Message {
    /// A JSON POST.
    Webhook { url: String, body: Value },
    /// An e-mail over SMTP.
    Mail {
        smtp: String,
        from: String,
        to: String,
        subject: String,
        text: String,
    },
}

/// How a delivery went: attempts made, and the last error if it failed.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub attempts: u32,
    pub error: Option<String>,
}

/// What carries messages (the network; a test double).
pub trait Courier {
    /// Delivers one message, retrying what may pass on a later try.
    fn send(&self, m: &Message) -> Delivered;
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// One team (a manager: only their own; default: a manager's own, every team for an admin).
    pub team: Option<String>,
    /// Report customers recycled since then instead of since the last successful run.
    pub since: Option<i64>,
    /// Follow-ups overdue by this many days or more are escalations.
    pub escalate_days: i64,
    pub dry_run: bool,
}

/// One delivery of one digest on one channel.
#[derive(Debug, Serialize)]
pub struct DeliveryRow {
    pub user: String,
    pub channel: i64,
    pub kind: String,
    pub preset: String,
    pub items: usize,
    /// sent, failed, would_send, no_email
    pub status: &'static str,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// In a dry run: what would be sent (contacts masked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
}

/// What a run did.
#[derive(Debug, Serialize)]
pub struct Run {
    pub dry_run: bool,
    pub digests: Vec<Digest>,
    pub deliveries: Vec<DeliveryRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<i64>,
}

impl Run {
    pub fn count(&self, status: &str) -> usize {
        self.deliveries
            .iter()
            .filter(|d| d.status == status)
            .count()
    }
}

/// A delivery decided in the snapshot.
struct Planned {
    user_id: i64,
    user: String,
    channel: Channel,
    digest: Digest,
    items: Vec<String>,
    email: Option<String>,
}

fn due_item(
    tx: &mut dyn Tx,
    f: &Followup,
    reader: &User,
    today: chrono::NaiveDate,
) -> Result<DueItem> {
    let c = tx.customer(f.customer_id)?;
    let own = c.owner_id == Some(reader.id);
    Ok(DueItem {
        followup: f.id,
        customer_id: f.customer_id,
        customer: f.customer.clone(),
        phone: c.phone.as_deref().map(mask_phone),
        assignee: f.assignee.clone(),
        action: f.action.clone(),
        due: f.due.clone(),
        days_overdue: days_overdue(&f.due, today),
        own_phone: if own { c.phone.clone() } else { None },
    })
}

/// Builds `person`'s digest in the snapshot. `team_due`: the team's overdue follow-ups
/// (for managers and admins); `members`: the team's user ids; `flagged`: over-access rows.
#[allow(clippy::too_many_arguments)]
fn digest_of(
    tx: &mut dyn Tx,
    person: &User,
    window: (i64, i64),
    team_due: &[Followup],
    members: &HashSet<i64>,
    flagged: &[AccessItem],
    opts: &Options,
    clock: DateTime<Utc>,
) -> Result<Digest> {
    let today = clock.date_naive();
    let now = clock.timestamp();
    let mut overdue = Vec::new();
    for f in tx.list_followups(&FollowupFilter {
        assignee_id: Some(person.id),
        status: Some("open".into()),
        due_before: Some(today.to_string()),
        ..Default::default()
    })? {
        // Only their own customers: work on someone else's customer is that owner's.
        if f.owner_id == Some(person.id) {
            overdue.push(due_item(tx, &f, person, today)?);
        }
    }
    let recycled = tx
        .recycled_from(person.id, window.0, window.1)?
        .into_iter()
        .map(|r| RecycledItem {
            event: r.event,
            customer_id: r.customer_id,
            customer: r.label,
            at: iso_ts(Some(r.at)),
            reason: r.reason,
        })
        .collect();
    let mut soon = Vec::new();
    for r in recycle_soon(tx, &[person.id], None, now, 0)? {
        let c = tx.customer(r.id)?;
        soon.push(SoonItem {
            customer_id: r.id,
            customer: r.customer,
            phone: c.phone.as_deref().map(mask_phone),
            due: r.due,
            days_left: r.days_left,
            reason: r.reason.to_string(),
            own_phone: (c.owner_id == Some(person.id))
                .then(|| c.phone.clone())
                .flatten(),
        });
    }
    let (mut team_overdue, mut escalations, mut over_access) = (Vec::new(), Vec::new(), Vec::new());
    if matches!(person.role, Role::Manager | Role::Admin) {
        for f in team_due {
            // Their own are in `overdue`; a customer of another team is never shown.
            if f.assignee_id == person.id || !f.owner_id.is_some_and(|o| members.contains(&o)) {
                continue;
            }
            let item = due_item(tx, f, person, today)?;
            if item.days_overdue >= opts.escalate_days {
                escalations.push(item);
            } else {
                team_overdue.push(item);
            }
        }
        over_access = flagged.to_vec();
    }
    Ok(Digest {
        user: person.login.clone(),
        name: person.display_name.clone(),
        team: person.team.clone(),
        date: today.to_string(),
        overdue,
        recycled,
        recycle_soon: soon,
        team_overdue,
        escalations,
        over_access,
    })
}

/// What a run decided in its snapshot.
struct Plan {
    team_id: Option<i64>,
    last_event: i64,
    digests: Vec<Digest>,
    planned: Vec<Planned>,
}

/// One team as its people's digests need it.
struct TeamView {
    /// Every user id of the team (a customer owned by none of them is another team's).
    members: HashSet<i64>,
    /// The team's overdue open follow-ups.
    due: Vec<Followup>,
    /// Its people flagged by the access report.
    flagged: Vec<AccessItem>,
    /// Recycle events after this id, at or after this time.
    window: (i64, i64),
}

/// Reads everything a run needs in one snapshot: the digests and, per channel, what it
/// has not had yet.
/// Whose digests `me` may build: the team asked for (a manager only their own), a
/// manager's own by default, everyone's for an admin; refused for members and viewers.
fn run_scope(tx: &mut dyn Tx, me: &User, opts: &Options) -> Result<Option<i64>> {
    // The role first: a member learns nothing about which teams exist.
    check_run(me, None)?;
    let team_id = match &opts.team {
        Some(t) => Some(tx.team_id(t)?),
        None if me.role == Role::Manager => Some(me.team_id),
        None => None,
    };
    check_run(me, team_id)?;
    Ok(team_id)
}

fn plan(tx: &mut dyn Tx, me: &User, opts: &Options, clock: DateTime<Utc>) -> Result<Plan> {
    let now = clock.timestamp();
    let today = clock.date_naive();
    let team_id = run_scope(tx, me, opts)?;
    let team_name = match team_id {
        Some(_) if opts.team.is_none() => Some(me.team.clone()),
        _ => opts.team.clone(),
    };
    let people = tx.users(team_name.as_deref(), false)?;
    let channels = tx.channels(team_id)?;
    let last_event = tx.last_ownership_event()?;
    let access_since = today - Duration::days(7);
    let (_, access) = access_rows(tx, access_since, now)?;
    let flagged: Vec<(String, AccessItem)> = access
        .into_iter()
        .filter(|a| a.flagged)
        .map(|a| {
            (
                a.user.clone(),
                AccessItem {
                    user: a.user,
                    unmasked_rows: a.unmasked_rows,
                    exported_rows: a.exported_rows,
                    since: access_since.to_string(),
                },
            )
        })
        .collect();
    let teams: BTreeSet<i64> = people.iter().map(|p| p.team_id).collect();
    let mut per_team: HashMap<i64, TeamView> = HashMap::new();
    let all = tx.users(None, true)?;
    for t in teams {
        let members: HashSet<i64> = all
            .iter()
            .filter(|u| u.team_id == t)
            .map(|u| u.id)
            .collect();
        let logins: HashSet<&str> = all
            .iter()
            .filter(|u| u.team_id == t)
            .map(|u| u.login.as_str())
            .collect();
        let due = tx.list_followups(&FollowupFilter {
            team_id: Some(t),
            status: Some("open".into()),
            due_before: Some(today.to_string()),
            ..Default::default()
        })?;
        let team_flagged = flagged
            .iter()
            .filter(|(u, _)| logins.contains(u.as_str()))
            .map(|(_, a)| a.clone())
            .collect();
        let window = match opts.since {
            Some(s) => (0, s),
            None => match tx.last_good_run(t)? {
                Some(e) => (e, i64::MIN),
                // The first run tells of the last week's recycling.
                None => (0, now - 7 * 86_400),
            },
        };
        per_team.insert(
            t,
            TeamView {
                members,
                due,
                flagged: team_flagged,
                window,
            },
        );
    }
    let all_flagged: Vec<AccessItem> = flagged.into_iter().map(|(_, a)| a).collect();
    let mut digests = Vec::new();
    let mut planned = Vec::new();
    for p in &people {
        let Some(t) = per_team.get(&p.team_id) else {
            continue;
        };
        let flagged = if p.role == Role::Admin {
            &all_flagged
        } else {
            &t.flagged
        };
        let d = digest_of(tx, p, t.window, &t.due, &t.members, flagged, opts, clock)?;
        if d.is_empty() {
            continue;
        }
        let email = tx.user_email(p.id)?;
        for c in channels.iter().filter(|c| c.team_id == p.team_id) {
            let mut sent = HashSet::new();
            for k in d.items() {
                if tx.was_sent(p.id, c.id, &k)? {
                    sent.insert(k);
                }
            }
            let unsent = d.unsent(|k| sent.contains(k));
            if unsent.is_empty() {
                continue;
            }
            planned.push(Planned {
                user_id: p.id,
                user: p.login.clone(),
                channel: c.clone(),
                items: unsent.items(),
                digest: unsent,
                email: email.clone(),
            });
        }
        digests.push(d);
    }
    Ok(Plan {
        team_id,
        last_event,
        digests,
        planned,
    })
}

/// The message a planned delivery sends; None when the person has no e-mail address.
fn message(p: &Planned, escalate_days: i64) -> Option<Message> {
    let preset = Preset::parse(&p.channel.preset).unwrap_or(Preset::Generic);
    if p.channel.kind == "smtp" {
        return p.email.as_ref().map(|to| Message::Mail {
            smtp: p.channel.target.clone(),
            from: p.channel.sender.clone().unwrap_or_default(),
            to: to.clone(),
            subject: title(&p.digest),
            text: markdown(&p.digest, escalate_days, true),
        });
    }
    Some(Message::Webhook {
        url: p.channel.target.clone(),
        body: webhook_body(preset, &p.digest, escalate_days),
    })
}

/// Builds the digests, delivers them (unless a dry run) and records the run.
pub fn notify(
    store: &mut dyn Backend,
    me: &User,
    opts: &Options,
    courier: &dyn Courier,
    clock: DateTime<Utc>,
) -> Result<Run> {
    if opts.escalate_days < 1 {
        return Err(Error::invalid("--escalate-after", "must be 1 day or more"));
    }
    if opts.dry_run {
        return deliver(store, me, opts, courier, clock);
    }
    // Who may run it is checked before the lease is taken; the lease
    // is given back however the run ends (a dead process's lease expires).
    run_scope(&mut *store.read()?, me, opts)?;
    take_lease(store, clock.timestamp())?;
    let run = deliver(store, me, opts, courier, clock);
    if run.is_err() {
        if let Ok(mut tx) = store.write() {
            let _ = tx.set_setting(LEASE, None).and_then(|_| tx.commit());
        }
    }
    run
}

/// Plans under the lease (or for a dry run), delivers and records.
fn deliver(
    store: &mut dyn Backend,
    me: &User,
    opts: &Options,
    courier: &dyn Courier,
    clock: DateTime<Utc>,
) -> Result<Run> {
    let Plan {
        team_id,
        last_event,
        digests,
        planned,
    } = {
        let mut tx = store.read()?;
        plan(&mut *tx, me, opts, clock)?
    };
    let mut rows = Vec::new();
    let mut sent: Vec<&Planned> = Vec::new();
    for p in &planned {
        let mut row = DeliveryRow {
            user: p.user.clone(),
            channel: p.channel.id,
            kind: p.channel.kind.clone(),
            preset: p.channel.preset.clone(),
            items: p.items.len(),
            status: "would_send",
            attempts: 0,
            error: None,
            payload: None,
        };
        let Some(msg) = message(p, opts.escalate_days) else {
            row.status = "no_email";
            rows.push(row);
            continue;
        };
        if opts.dry_run {
            row.payload = Some(match &msg {
                Message::Webhook { body, .. } => body.clone(),
                Message::Mail { to, subject, .. } => json!({
                    "to": mask_email(to),
                    "subject": subject,
                    "text": markdown(&p.digest, opts.escalate_days, false),
                }),
            });
        } else {
            let d = courier.send(&msg);
            row.attempts = d.attempts;
            row.status = if d.error.is_none() { "sent" } else { "failed" };
            if d.error.is_none() {
                sent.push(p);
            }
            row.error = d.error;
        }
        rows.push(row);
    }
    let mut run = Run {
        dry_run: opts.dry_run,
        digests,
        deliveries: rows,
        run_id: None,
    };
    if opts.dry_run {
        return Ok(run);
    }
    let now = clock.timestamp();
    let failed = run.count("failed") as i64;
    let mut tx = store.write()?;
    let run_id = tx.insert_notify_run(&RunRow {
        at: now,
        by: me.id,
        team_id,
        last_event,
        digests: run.digests.len() as i64,
        sent: sent.len() as i64,
        failed,
    })?;
    for p in &sent {
        tx.record_sent(p.user_id, p.channel.id, &p.items, run_id)?;
    }
    // Counts only: the audit log keeps no one's customers or addresses.
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action: "notify",
        entity: "notify_run",
        entity_id: Some(run_id),
        before: None,
        after: Some(json!({
            "team": opts.team.clone().or_else(|| team_id.map(|_| me.team.clone())),
            "digests": run.digests.len(),
            "sent": sent.len(),
            "failed": failed,
            "no_email": run.count("no_email"),
        })),
    })?;
    // The run is recorded: the next one may start.
    tx.set_setting(LEASE, None)?;
    tx.commit()?;
    run.run_id = Some(run_id);
    Ok(run)
}

/// The setting that says a run is under way (until when): two runs at once would both
/// send what neither has recorded yet.
const LEASE: &str = "notify_lease";
/// How long a run may hold the lease; a run that died frees it after this.
const LEASE_SECS: i64 = 600;

/// Takes the run lease, or says another run holds it.
fn take_lease(store: &mut dyn Backend, now: i64) -> Result<()> {
    let mut tx = store.write()?;
    if let Some(until) = tx.setting(LEASE)?.and_then(|v| v.parse::<i64>().ok()) {
        if until > now {
            return Err(Error::Conflict(format!(
                "another pool notify is running (until {} at the latest); run one at a time",
                crate::clock::fmt_ts(Some(until))
            )));
        }
    }
    tx.set_setting(LEASE, Some(&(now + LEASE_SECS).to_string()))?;
    tx.commit()
}

/// Where a new channel delivers.
#[derive(Debug, Clone)]
pub enum Target {
    Webhook { url: String, preset: Preset },
    Smtp { url: String, from: String },
}

/// A channel as `channel list` shows it: the target whole for admins only.
#[derive(Debug, Serialize)]
pub struct ChannelView {
    pub id: i64,
    pub team: String,
    pub kind: String,
    pub preset: String,
    pub target: String,
    pub sender: Option<String>,
}

fn view(c: Channel, me: &User) -> ChannelView {
    ChannelView {
        id: c.id,
        team: c.team,
        kind: c.kind,
        preset: c.preset,
        target: if me.role == Role::Admin {
            c.target
        } else {
            rules::mask_target(&c.target)
        },
        sender: c.sender,
    }
}

/// Adds a delivery channel to a team (admin); audited without its secret target.
pub fn add_channel(
    store: &mut dyn Backend,
    me: &User,
    team: &str,
    target: &Target,
    now: i64,
) -> Result<ChannelView> {
    scope::require(me, Action::ManageTeams)?;
    let (kind, preset, url, sender) = match target {
        Target::Webhook { url, preset } => {
            if *preset == Preset::Email {
                return Err(Error::invalid("--preset", "email is for --smtp channels"));
            }
            ("webhook", *preset, rules::check_webhook(url)?, None)
        }
        Target::Smtp { url, from } => (
            "smtp",
            Preset::Email,
            rules::check_smtp(url)?,
            Some(rules::check_email("--from", from)?),
        ),
    };
    let mut tx = store.write()?;
    let team_id = tx.team_id(team)?;
    let id = tx.add_channel(
        &NewChannel {
            team_id,
            kind,
            preset: preset.as_str(),
            target: &url,
            sender: sender.as_deref(),
        },
        me.id,
        now,
    )?;
    let c = tx.channel(id)?;
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action: "notify_channel_add",
        entity: "notify_channel",
        entity_id: Some(id),
        before: None,
        after: Some(json!({
            "team": team,
            "kind": kind,
            "preset": preset.as_str(),
            "target": rules::mask_target(&url),
        })),
    })?;
    tx.commit()?;
    Ok(view(c, me))
}

/// The channels in use: an admin's of every team (or one), anyone else's own team's,
/// targets masked.
pub fn list_channels(
    store: &mut dyn Backend,
    me: &User,
    team: Option<&str>,
) -> Result<Vec<ChannelView>> {
    let mut tx = store.read()?;
    let team_id = match team {
        Some(t) => {
            let id = tx.team_id(t)?;
            if me.role != Role::Admin && id != me.team_id {
                return Err(Error::Forbidden(format!(
                    "you see your own team's channels ({})",
                    me.team
                )));
            }
            Some(id)
        }
        None if me.role == Role::Admin => None,
        None => Some(me.team_id),
    };
    Ok(tx
        .channels(team_id)?
        .into_iter()
        .map(|c| view(c, me))
        .collect())
}

/// Takes a channel out of use (admin); audited.
pub fn remove_channel(store: &mut dyn Backend, me: &User, id: i64, now: i64) -> Result<()> {
    scope::require(me, Action::ManageTeams)?;
    let mut tx = store.write()?;
    let c = tx.channel(id)?;
    tx.remove_channel(id, now)?;
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action: "notify_channel_remove",
        entity: "notify_channel",
        entity_id: Some(id),
        before: Some(json!({
            "team": c.team,
            "kind": c.kind,
            "preset": c.preset,
            "target": rules::mask_target(&c.target),
        })),
        after: None,
    })?;
    tx.commit()
}

/// Sets (or with None clears) where a user's digest is e-mailed: an admin for anyone, a
/// user for themselves. Audited masked.
pub fn set_email(
    store: &mut dyn Backend,
    me: &User,
    login: &str,
    email: Option<&str>,
    now: i64,
) -> Result<()> {
    let email = email
        .map(|e| rules::check_email("--email", e))
        .transpose()?;
    let mut tx = store.write()?;
    let u = tx.user(login)?;
    if me.role != Role::Admin && u.id != me.id {
        return Err(Error::Forbidden(format!(
            "only an admin sets another user's e-mail ({login})"
        )));
    }
    let before = tx.user_email(u.id)?;
    tx.set_user_email(u.id, email.as_deref())?;
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action: "user_set_email",
        entity: "user",
        entity_id: Some(u.id),
        before: Some(json!({"email": before.as_deref().map(mask_email)})),
        after: Some(json!({"email": email.as_deref().map(mask_email)})),
    })?;
    tx.commit()
}
