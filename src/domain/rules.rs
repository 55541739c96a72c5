//! Pool rules and the decisions made with them: may this user claim this customer,
//! when is an owned customer due back in the pool. Pure functions of facts and `now`.
use serde::Serialize;

use crate::error::Error;

pub const DAY: i64 = 86_400;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rules {
    /// How many customers one user may own from this pool (0 = no limit).
    pub max_owned: i64,
    /// Whether `customer` and `loyal` stages count towards max_owned.
    pub count_won: bool,
    /// Claims per user per (UTC) day (0 = no limit).
    pub daily_claims: i64,
    /// Days a previous owner must wait to re-claim a customer they released or lost.
    pub reclaim_cooldown_days: i64,
    /// Owned customers without an interaction for N days go back (0 = off).
    pub recycle_no_contact_days: i64,
    /// Owned customers without a deal N days after the claim go back (0 = off).
    pub recycle_no_deal_days: i64,
    /// How many days ahead agenda and reports warn about recycling.
    pub warn_days: i64,
    /// Stages never recycled.
    pub exempt_stages: Vec<String>,
    /// Locked customers one user may hold (0 = locking off).
    pub max_locked: i64,
    /// Hours a customer that just entered the pool can only be assigned, not claimed.
    pub fresh_hold_hours: i64,
    /// Recycle days per stage or tag.
    pub overrides: Vec<Override>,
    /// Interaction kinds that count as contact (move the recycle clock).
    pub contact_kinds: Vec<String>,
    /// A contact's summary must have at least this many characters to count.
    pub min_contact_chars: i64,
    /// Lead allocation: `off`, `round_robin` or `least_loaded`.
    pub allocate: String,
    /// Whom allocation deals to: `team:NAME` or `users:a,b,c`.
    pub allocate_to: String,
    /// Follow-ups planned automatically on events.
    pub followups: Vec<FollowupRule>,
}

/// Interaction kinds that count as contact unless a pool says otherwise.
pub const DEFAULT_CONTACT_KINDS: &[&str] = &["call", "email", "meeting", "visit", "wechat"];
/// Every interaction kind.
pub const KINDS: &[&str] = &["call", "email", "meeting", "visit", "wechat", "note"];

/// A follow-up planned automatically: on `event` (claim, deal, silent) for customers at
/// `stage` ("" = any), `action` due `due_days` later (silent: that many days before the
/// recycle date).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FollowupRule {
    pub event: String,
    pub stage: String,
    pub action: String,
    pub due_days: i64,
}

/// The events follow-up rules react to.
pub const FOLLOWUP_EVENTS: &[&str] = &["claim", "deal", "silent"];

impl Default for Rules {
    fn default() -> Self {
        Rules {
            max_owned: 0,
            count_won: false,
            daily_claims: 0,
            reclaim_cooldown_days: 0,
            recycle_no_contact_days: 0,
            recycle_no_deal_days: 0,
            warn_days: 3,
            exempt_stages: vec!["loyal".into()],
            max_locked: 0,
            fresh_hold_hours: 0,
            overrides: Vec::new(),
            contact_kinds: DEFAULT_CONTACT_KINDS
                .iter()
                .map(|k| k.to_string())
                .collect(),
            min_contact_chars: 2,
            allocate: "off".into(),
            allocate_to: String::new(),
            followups: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Override {
    /// "stage" or "tag"
    pub scope: String,
    pub value: String,
    pub recycle_no_contact_days: Option<i64>,
    pub recycle_no_deal_days: Option<i64>,
}

/// The rule names `pool rules set` takes, with what they mean.
pub const RULES: &[(&str, &str)] = &[
    (
        "max_owned",
        "customers one user may own from this pool (0 = no limit)",
    ),
    (
        "count_won",
        "whether customer/loyal stages count towards max_owned",
    ),
    (
        "daily_claims",
        "claims per user per local day (0 = no limit)",
    ),
    (
        "reclaim_cooldown_days",
        "days before a previous owner may re-claim",
    ),
    (
        "recycle_no_contact_days",
        "owned customers with no interaction for N days go back (0 = off)",
    ),
    (
        "recycle_no_deal_days",
        "owned customers with no deal N days after the claim go back (0 = off)",
    ),
    (
        "warn_days",
        "how early agenda and reports warn about recycling",
    ),
    ("exempt_stages", "stages never recycled (comma-separated)"),
    (
        "max_locked",
        "locked customers one user may hold (0 = locking off)",
    ),
    (
        "fresh_hold_hours",
        "hours a newly pooled customer can only be assigned by a manager",
    ),
    (
        "contact_kinds",
        "interaction kinds that count as contact and move the recycle clock",
    ),
    (
        "min_contact_chars",
        "characters a contact's summary needs to count (\".\" does not)",
    ),
    (
        "allocate",
        "new leads dealt out automatically: off, round_robin or least_loaded",
    ),
    (
        "allocate_to",
        "whom allocation deals to: team:NAME or users:a,b",
    ),
];

/// Whether an interaction counts as contact under these rules (moves the recycle clock).
pub fn counts_as_contact(r: &Rules, kind: &str, summary: &str) -> bool {
    r.contact_kinds.iter().any(|k| k == kind)
        && summary.trim().chars().count() as i64 >= r.min_contact_chars
}

/// The follow-up rule for an event and a customer's stage: one for that stage beats one
/// for any stage.
pub fn followup_rule<'r>(r: &'r Rules, event: &str, stage: &str) -> Option<&'r FollowupRule> {
    r.followups
        .iter()
        .find(|f| f.event == event && f.stage == stage)
        .or_else(|| {
            r.followups
                .iter()
                .find(|f| f.event == event && f.stage.is_empty())
        })
}

/// What the store knows when someone claims a customer.
#[derive(Debug, Clone, Default)]
pub struct ClaimFacts {
    pub customer_id: i64,
    /// When it last entered the pool.
    pub pooled_at: Option<i64>,
    /// Customers the claimer already owns from this pool that count towards max_owned.
    pub owned: i64,
    /// Claims the claimer made today.
    pub claims_today: i64,
    /// When the claimer last lost this customer (release or recycle), if ever.
    pub claimer_lost_at: Option<i64>,
}

/// May a member claim this pooled customer now? (Visibility and ownership are checked
/// by the caller; this is the rule part.)
pub fn check_claim(
    r: &Rules,
    f: &ClaimFacts,
    who: &str,
    pool: &str,
    now: i64,
) -> Result<(), Error> {
    if r.fresh_hold_hours > 0 {
        if let Some(p) = f.pooled_at {
            let until = p + r.fresh_hold_hours * 3600;
            if now < until {
                return Err(Error::FreshHold {
                    id: f.customer_id,
                    until: crate::clock::fmt_ts(Some(until)),
                });
            }
        }
    }
    if r.reclaim_cooldown_days > 0 {
        if let Some(lost) = f.claimer_lost_at {
            let until = lost + r.reclaim_cooldown_days * DAY;
            if now < until {
                return Err(Error::Cooldown {
                    id: f.customer_id,
                    until: crate::clock::fmt_ts(Some(until)),
                });
            }
        }
    }
    check_limit(r, f.owned, who, pool)?;
    if r.daily_claims > 0 && f.claims_today >= r.daily_claims {
        return Err(Error::DailyCap {
            n: f.claims_today,
            max: r.daily_claims,
        });
    }
    Ok(())
}

/// Who may move a customer to a stage. Managers and admins: any. A member: `lead` and
/// `churned` freely, but `customer` and `loyal` (won stages: exempt from recycling,
/// outside max_owned unless `count_won`) only once the customer has a deal — otherwise a
/// member could keep a lead forever by calling it loyal.
pub fn check_stage_change(
    role: crate::domain::roles::Role,
    to: &str,
    has_deal: bool,
) -> Result<(), Error> {
    use crate::domain::roles::Role;
    let won = matches!(to, "customer" | "loyal");
    if won && !has_deal && matches!(role, Role::Member | Role::Viewer) {
        return Err(Error::Forbidden(format!(
            "a member may set stage '{to}' only on a customer with a deal (pool deal add ID --amount …), or ask a manager"
        )));
    }
    Ok(())
}

/// max_owned, for claims and for assignments.
pub fn check_limit(r: &Rules, owned: i64, who: &str, pool: &str) -> Result<(), Error> {
    if r.max_owned > 0 && owned >= r.max_owned {
        return Err(Error::LimitReached {
            who: who.into(),
            n: owned,
            max: r.max_owned,
            pool: pool.into(),
        });
    }
    Ok(())
}

/// Whether a stage counts towards max_owned.
pub fn counts_towards_limit(r: &Rules, stage: &str) -> bool {
    r.count_won || !matches!(stage, "customer" | "loyal")
}

/// What the store knows about an owned customer, for recycling.
#[derive(Debug, Clone, Default)]
pub struct OwnedFacts {
    pub stage: String,
    pub tags: Vec<String>,
    pub locked: bool,
    pub claimed_at: i64,
    pub last_contact_at: Option<i64>,
    pub won_at: Option<i64>,
    /// A, B or C.
    pub level: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecycleReason {
    NoContact,
    NoDeal,
}

impl RecycleReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RecycleReason::NoContact => "no_contact",
            RecycleReason::NoDeal => "no_deal",
        }
    }
}

/// The days that apply to a customer: a stage override beats a level override, which
/// beats a tag override, which beats the pool default; among several matching tags the
/// shortest wins.
fn effective(r: &Rules, f: &OwnedFacts, pick: fn(&Override) -> Option<i64>, default: i64) -> i64 {
    if let Some(d) = r
        .overrides
        .iter()
        .filter(|o| o.scope == "stage" && o.value == f.stage)
        .find_map(pick)
    {
        return d;
    }
    if let Some(d) = r
        .overrides
        .iter()
        .filter(|o| o.scope == "level" && Some(&o.value) == f.level.as_ref())
        .find_map(pick)
    {
        return d;
    }
    r.overrides
        .iter()
        .filter(|o| {
            o.scope == "tag"
                && f.tags
                    .iter()
                    .any(|t| crate::domain::normalize::tag_key(t) == o.value)
        })
        .filter_map(pick)
        .min()
        .unwrap_or(default)
}

/// When this owned customer is due back in the pool, and why; None if never
/// (locked, exempt stage, or rules off).
pub fn recycle_due(r: &Rules, f: &OwnedFacts) -> Option<(i64, RecycleReason)> {
    if f.locked || r.exempt_stages.contains(&f.stage) {
        return None;
    }
    let mut due: Option<(i64, RecycleReason)> = None;
    let contact_days = effective(
        r,
        f,
        |o| o.recycle_no_contact_days,
        r.recycle_no_contact_days,
    );
    if contact_days > 0 {
        // The clock starts at the claim: contacts by a previous owner do not count.
        let clock = f.last_contact_at.unwrap_or(f.claimed_at).max(f.claimed_at);
        due = Some((clock + contact_days * DAY, RecycleReason::NoContact));
    }
    let deal_days = effective(r, f, |o| o.recycle_no_deal_days, r.recycle_no_deal_days);
    if deal_days > 0 && f.won_at.is_none() {
        let at = f.claimed_at + deal_days * DAY;
        if due.is_none_or(|(d, _)| at < d) {
            due = Some((at, RecycleReason::NoDeal));
        }
    }
    due
}

/// The smallest number of days any rule of this pool recycles after, so the store can
/// pre-filter candidates with one indexed range (None: nothing is ever recycled).
pub fn shortest_recycle_days(r: &Rules) -> Option<i64> {
    let mut all: Vec<i64> = vec![r.recycle_no_contact_days, r.recycle_no_deal_days];
    for o in &r.overrides {
        all.extend(o.recycle_no_contact_days);
        all.extend(o.recycle_no_deal_days);
    }
    all.into_iter().filter(|d| *d > 0).min()
}

/// Start of the (local) day `now` falls in, for the daily claim cap.
pub fn day_start(now: i64) -> i64 {
    crate::clock::day_start(now)
}

/// A change to a pool's rules as the admin asked for it (`pool rules set`); None = keep.
#[derive(Debug, Clone, Default)]
pub struct RuleChanges {
    pub max_owned: Option<i64>,
    pub count_won: Option<bool>,
    pub daily_claims: Option<i64>,
    pub reclaim_cooldown_days: Option<i64>,
    pub recycle_no_contact_days: Option<i64>,
    pub recycle_no_deal_days: Option<i64>,
    pub warn_days: Option<i64>,
    /// Comma-separated stages ("" for none).
    pub exempt_stages: Option<String>,
    pub max_locked: Option<i64>,
    pub fresh_hold_hours: Option<i64>,
    /// `stage=S` or `tag=T`: the recycle days apply to that stage or tag only.
    pub scope: Option<String>,
    /// With `scope`: remove that override.
    pub remove: bool,
    /// Comma-separated interaction kinds.
    pub contact_kinds: Option<String>,
    pub min_contact_chars: Option<i64>,
    pub allocate: Option<String>,
    pub allocate_to: Option<String>,
    /// A follow-up rule on this event (with `plan` and `due_in`, or `remove`); `scope`
    /// (`stage=S`) gives its stage.
    pub on: Option<String>,
    pub plan: Option<String>,
    pub due_in: Option<i64>,
}

/// The largest value each rule may take: beyond these a rule is a typo, and a huge one
/// would overflow date arithmetic ("fresh until ;").
fn max_of(name: &str) -> (i64, &'static str) {
    match name {
        "--recycle-no-contact-days" | "--recycle-no-deal-days" | "--reclaim-cooldown-days" => {
            (3650, "days (10 years)")
        }
        "--warn-days" => (365, "days"),
        "--fresh-hold-hours" => (8760, "hours (a year)"),
        "--daily-claims" => (100_000, "claims a day"),
        _ => (1_000_000, "customers"),
    }
}

/// A rule value from 0 to its maximum.
fn non_negative(name: &str, v: Option<i64>) -> Result<Option<i64>, Error> {
    let (max, unit) = max_of(name);
    match v {
        Some(n) if n < 0 => Err(Error::invalid_hint(
            name,
            format!("{n} is negative"),
            format!("use 0 to {max} {unit}; 0 turns the rule off or means no limit"),
        )),
        Some(n) if n > max => Err(Error::invalid_hint(
            name,
            format!("{n} is more than the maximum of {max} {unit}"),
            format!("use 0 to {max} {unit}; 0 turns the rule off or means no limit"),
        )),
        _ => Ok(v),
    }
}

/// The rules after `ch`, each value checked; refused when nothing would change.
pub fn apply_changes(before: &Rules, ch: &RuleChanges) -> Result<Rules, Error> {
    use crate::domain::customer::Stage;
    let mut r = before.clone();
    let contact = non_negative("--recycle-no-contact-days", ch.recycle_no_contact_days)?;
    let deal = non_negative("--recycle-no-deal-days", ch.recycle_no_deal_days)?;
    if let Some(event) = &ch.on {
        followup_change(&mut r, event, ch)?;
    }
    if let (Some(scope), None) = (&ch.scope, &ch.on) {
        let (kind, value) = scope
            .split_once('=')
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .filter(|(k, v)| matches!(k.as_str(), "stage" | "tag" | "level") && !v.is_empty())
            .ok_or_else(|| {
                Error::invalid(
                    "--for",
                    format!("'{scope}' is not stage=S, level=L or tag=T"),
                )
            })?;
        let value = if kind == "stage" {
            Stage::parse(&value)
                .ok_or_else(|| Error::invalid("--for", format!("'{value}' is not a stage")))?
                .as_str()
                .to_string()
        } else if kind == "level" {
            crate::domain::fields::level(&value)?
        } else {
            crate::domain::normalize::tag_key(
                &crate::domain::normalize::parse_tags(&value).join(","),
            )
        };
        r.overrides
            .retain(|o| !(o.scope == kind && o.value == value));
        if !ch.remove {
            if contact.is_none() && deal.is_none() {
                return Err(Error::Usage(
                    "--for needs --recycle-no-contact-days and/or --recycle-no-deal-days".into(),
                ));
            }
            r.overrides.push(Override {
                scope: kind,
                value,
                recycle_no_contact_days: contact,
                recycle_no_deal_days: deal,
            });
        }
    } else {
        if let Some(v) = contact {
            r.recycle_no_contact_days = v;
        }
        if let Some(v) = deal {
            r.recycle_no_deal_days = v;
        }
    }
    let set = |field: &mut i64, name: &str, v: Option<i64>| -> Result<(), Error> {
        if let Some(v) = non_negative(name, v)? {
            *field = v;
        }
        Ok(())
    };
    set(&mut r.max_owned, "--max-owned", ch.max_owned)?;
    set(&mut r.daily_claims, "--daily-claims", ch.daily_claims)?;
    set(
        &mut r.reclaim_cooldown_days,
        "--reclaim-cooldown-days",
        ch.reclaim_cooldown_days,
    )?;
    set(&mut r.warn_days, "--warn-days", ch.warn_days)?;
    set(&mut r.max_locked, "--max-locked", ch.max_locked)?;
    set(
        &mut r.fresh_hold_hours,
        "--fresh-hold-hours",
        ch.fresh_hold_hours,
    )?;
    if let Some(b) = ch.count_won {
        r.count_won = b;
    }
    if let Some(s) = &ch.exempt_stages {
        r.exempt_stages = s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                Stage::parse(s)
                    .map(|st| st.as_str().to_string())
                    .ok_or_else(|| {
                        Error::invalid("--exempt-stages", format!("'{s}' is not a stage"))
                    })
            })
            .collect::<Result<_, Error>>()?;
    }
    if let Some(list) = &ch.contact_kinds {
        let mut kinds = Vec::new();
        for k in list
            .split(',')
            .map(|k| k.trim().to_lowercase())
            .filter(|k| !k.is_empty())
        {
            if !KINDS.contains(&k.as_str()) {
                return Err(Error::invalid_hint(
                    "--contact-kinds",
                    format!("'{k}' is not an interaction kind"),
                    format!("use some of {}", KINDS.join(",")),
                ));
            }
            if !kinds.contains(&k) {
                kinds.push(k);
            }
        }
        r.contact_kinds = kinds;
    }
    if let Some(n) = ch.min_contact_chars {
        if !(0..=1000).contains(&n) {
            return Err(Error::invalid("--min-contact-chars", "use 0 to 1000"));
        }
        r.min_contact_chars = n;
    }
    if let Some(a) = &ch.allocate {
        let a = a.trim().to_lowercase().replace('-', "_");
        if !matches!(a.as_str(), "off" | "round_robin" | "least_loaded") {
            return Err(Error::invalid(
                "--allocate",
                format!("'{a}' is not off, round_robin or least_loaded"),
            ));
        }
        r.allocate = a;
    }
    if let Some(t) = &ch.allocate_to {
        r.allocate_to = parse_allocate_to(t)?.to_string();
    }
    if r.allocate != "off" && r.allocate_to.is_empty() {
        return Err(Error::invalid_hint(
            "--allocate",
            "needs whom to deal to",
            "add --allocate-to team:NAME or --allocate-to users:a,b",
        ));
    }
    if r == *before {
        return Err(Error::Usage(
            "nothing to change: pass a rule such as --max-owned 50".into(),
        ));
    }
    Ok(r)
}

/// Whom allocation deals to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllocateTo {
    Team(String),
    Users(Vec<String>),
}

impl std::fmt::Display for AllocateTo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AllocateTo::Team(t) => write!(f, "team:{t}"),
            AllocateTo::Users(u) => write!(f, "users:{}", u.join(",")),
        }
    }
}

/// `team:NAME` or `users:a,b,c`.
pub fn parse_allocate_to(s: &str) -> Result<AllocateTo, Error> {
    let bad = || {
        Error::invalid_hint(
            "--allocate-to",
            format!("'{s}' is not team:NAME or users:a,b"),
            "e.g. --allocate-to team:sales-east or --allocate-to users:lihua,chen",
        )
    };
    match s.trim().split_once(':') {
        Some(("team", t)) if !t.trim().is_empty() => Ok(AllocateTo::Team(t.trim().into())),
        Some(("users", list)) => {
            let mut users: Vec<String> = Vec::new();
            for u in list.split(',').map(str::trim).filter(|u| !u.is_empty()) {
                if !users.iter().any(|x| x == u) {
                    users.push(u.into());
                }
            }
            if users.is_empty() {
                return Err(bad());
            }
            Ok(AllocateTo::Users(users))
        }
        _ => Err(bad()),
    }
}

/// Adds, replaces or removes the follow-up rule of `--on EVENT [--for stage=S]`.
fn followup_change(r: &mut Rules, event: &str, ch: &RuleChanges) -> Result<(), Error> {
    use crate::domain::customer::Stage;
    let event = event.trim().to_lowercase();
    if !FOLLOWUP_EVENTS.contains(&event.as_str()) {
        return Err(Error::invalid(
            "--on",
            format!("'{event}' is not claim, deal or silent"),
        ));
    }
    let stage = match &ch.scope {
        None => String::new(),
        Some(scope) => match scope.split_once('=') {
            Some(("stage", v)) => Stage::parse(v.trim())
                .ok_or_else(|| Error::invalid("--for", format!("'{v}' is not a stage")))?
                .as_str()
                .to_string(),
            _ => {
                return Err(Error::invalid(
                    "--for",
                    format!("'{scope}': a follow-up rule takes --for stage=S"),
                ))
            }
        },
    };
    r.followups
        .retain(|f| !(f.event == event && f.stage == stage));
    if ch.remove {
        return Ok(());
    }
    let (Some(plan), Some(days)) = (&ch.plan, ch.due_in) else {
        return Err(Error::Usage(
            "--on needs --plan ACTION and --due-in DAYS (or --remove)".into(),
        ));
    };
    let action = crate::domain::work::text("--plan", plan)?;
    if !(0..=365).contains(&days) {
        return Err(Error::invalid("--due-in", "use 0 to 365 days"));
    }
    r.followups.push(FollowupRule {
        event,
        stage,
        action,
        due_days: days,
    });
    r.followups
        .sort_by(|a, b| (&a.event, &a.stage).cmp(&(&b.event, &b.stage)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000 * DAY;

    fn owned(stage: &str, claimed_days_ago: i64, contact_days_ago: Option<i64>) -> OwnedFacts {
        OwnedFacts {
            stage: stage.into(),
            claimed_at: NOW - claimed_days_ago * DAY,
            last_contact_at: contact_days_ago.map(|d| NOW - d * DAY),
            ..Default::default()
        }
    }

    #[test]
    fn a_stage_beats_a_level_which_beats_a_tag() {
        let over = |scope: &str, value: &str, days: i64| Override {
            scope: scope.into(),
            value: value.into(),
            recycle_no_contact_days: Some(days),
            recycle_no_deal_days: None,
        };
        let r = Rules {
            recycle_no_contact_days: 30,
            overrides: vec![over("tag", "vip", 90), over("level", "A", 60)],
            ..Rules::default()
        };
        let mut f = owned("lead", 100, Some(100));
        assert_eq!(recycle_due(&r, &f).unwrap().0, f.claimed_at + 30 * DAY);
        f.tags = vec!["vip".into()];
        assert_eq!(recycle_due(&r, &f).unwrap().0, f.claimed_at + 90 * DAY);
        f.level = Some("A".into());
        assert_eq!(recycle_due(&r, &f).unwrap().0, f.claimed_at + 60 * DAY);
        let mut r2 = r.clone();
        r2.overrides.push(over("stage", "lead", 7));
        assert_eq!(recycle_due(&r2, &f).unwrap().0, f.claimed_at + 7 * DAY);
        // --for level=b is stored as B; level=Z is refused.
        let ch = RuleChanges {
            scope: Some("level=b".into()),
            recycle_no_contact_days: Some(10),
            ..RuleChanges::default()
        };
        let after = apply_changes(&r, &ch).unwrap();
        assert!(after
            .overrides
            .iter()
            .any(|o| o.scope == "level" && o.value == "B"));
        let bad = RuleChanges {
            scope: Some("level=Z".into()),
            ..ch
        };
        assert!(apply_changes(&r, &bad).is_err());
    }

    #[test]
    fn what_counts_as_contact() {
        let r = Rules::default();
        assert!(counts_as_contact(&r, "call", "聊了报价"));
        assert!(!counts_as_contact(&r, "note", "内部备注很长的一段话"));
        assert!(!counts_as_contact(&r, "call", "."));
        assert!(counts_as_contact(&r, "call", "未接"));
        let ch = RuleChanges {
            contact_kinds: Some("visit, NOTE".into()),
            min_contact_chars: Some(0),
            ..Default::default()
        };
        let r = apply_changes(&r, &ch).unwrap();
        assert_eq!(r.contact_kinds, ["visit", "note"]);
        assert!(counts_as_contact(&r, "note", "."));
        assert!(!counts_as_contact(&r, "call", "聊了报价"));
        let bad = RuleChanges {
            contact_kinds: Some("fax".into()),
            ..Default::default()
        };
        assert!(apply_changes(&r, &bad).is_err());
    }

    #[test]
    fn a_stage_followup_rule_beats_the_any_stage_one() {
        let mut r = Rules::default();
        for (stage, plan) in [(None, "首次联系"), (Some("stage=customer"), "老客户回访")] {
            let ch = RuleChanges {
                on: Some("claim".into()),
                scope: stage.map(String::from),
                plan: Some(plan.into()),
                due_in: Some(1),
                ..Default::default()
            };
            r = apply_changes(&r, &ch).unwrap();
        }
        assert_eq!(
            followup_rule(&r, "claim", "lead").unwrap().action,
            "首次联系"
        );
        assert_eq!(
            followup_rule(&r, "claim", "customer").unwrap().action,
            "老客户回访"
        );
        assert!(followup_rule(&r, "deal", "lead").is_none());
        let rm = RuleChanges {
            on: Some("claim".into()),
            remove: true,
            ..Default::default()
        };
        let r = apply_changes(&r, &rm).unwrap();
        assert!(followup_rule(&r, "claim", "lead").is_none());
        let bad = RuleChanges {
            on: Some("birthday".into()),
            plan: Some("x".into()),
            due_in: Some(1),
            ..Default::default()
        };
        assert!(apply_changes(&r, &bad).is_err());
    }

    #[test]
    fn allocation_needs_someone_to_deal_to() {
        let r = Rules::default();
        let ch = RuleChanges {
            allocate: Some("round-robin".into()),
            ..Default::default()
        };
        assert!(apply_changes(&r, &ch).is_err());
        let ch = RuleChanges {
            allocate: Some("round-robin".into()),
            allocate_to: Some("users: li, wang ,li".into()),
            ..Default::default()
        };
        let r = apply_changes(&r, &ch).unwrap();
        assert_eq!(r.allocate, "round_robin");
        assert_eq!(r.allocate_to, "users:li,wang");
        assert!(parse_allocate_to("group:x").is_err());
        assert_eq!(
            parse_allocate_to("team:东区").unwrap(),
            AllocateTo::Team("东区".into())
        );
    }

    #[test]
    fn no_contact_clock_starts_at_claim_or_last_contact() {
        let r = Rules {
            recycle_no_contact_days: 30,
            ..Default::default()
        };
        assert_eq!(
            recycle_due(&r, &owned("lead", 40, None)),
            Some((NOW - 10 * DAY, RecycleReason::NoContact))
        );
        assert_eq!(
            recycle_due(&r, &owned("lead", 40, Some(5))).unwrap().0,
            NOW + 25 * DAY
        );
        // A contact before the claim (by someone else) does not count.
        assert_eq!(
            recycle_due(&r, &owned("lead", 10, Some(50))).unwrap().0,
            NOW + 20 * DAY
        );
    }

    #[test]
    fn locked_exempt_and_off_are_never_due() {
        let r = Rules {
            recycle_no_contact_days: 30,
            ..Default::default()
        };
        let mut f = owned("lead", 100, None);
        f.locked = true;
        assert_eq!(recycle_due(&r, &f), None);
        assert_eq!(recycle_due(&r, &owned("loyal", 100, None)), None);
        assert_eq!(
            recycle_due(&Rules::default(), &owned("lead", 100, None)),
            None
        );
    }

    #[test]
    fn stage_override_beats_tag_beats_default() {
        let r = Rules {
            recycle_no_contact_days: 30,
            overrides: vec![
                Override {
                    scope: "stage".into(),
                    value: "lead".into(),
                    recycle_no_contact_days: Some(7),
                    recycle_no_deal_days: None,
                },
                Override {
                    scope: "tag".into(),
                    value: "vip".into(),
                    recycle_no_contact_days: Some(60),
                    recycle_no_deal_days: None,
                },
            ],
            ..Default::default()
        };
        assert_eq!(
            recycle_due(&r, &owned("lead", 100, Some(0))).unwrap().0,
            NOW + 7 * DAY
        );
        let mut f = owned("customer", 100, Some(0));
        f.tags = vec!["vip".into()];
        assert_eq!(recycle_due(&r, &f).unwrap().0, NOW + 60 * DAY);
        assert_eq!(
            recycle_due(&r, &owned("customer", 100, Some(0))).unwrap().0,
            NOW + 30 * DAY
        );
        assert_eq!(shortest_recycle_days(&r), Some(7));
    }

    #[test]
    fn no_deal_applies_only_without_a_deal() {
        let r = Rules {
            recycle_no_deal_days: 90,
            ..Default::default()
        };
        assert_eq!(
            recycle_due(&r, &owned("lead", 100, Some(1))),
            Some((NOW - 10 * DAY, RecycleReason::NoDeal))
        );
        let mut f = owned("customer", 100, Some(1));
        f.won_at = Some(NOW - 50 * DAY);
        assert_eq!(recycle_due(&r, &f), None);
    }

    #[test]
    fn claim_refusals_name_their_reason() {
        let r = Rules {
            max_owned: 2,
            daily_claims: 3,
            reclaim_cooldown_days: 7,
            fresh_hold_hours: 24,
            ..Default::default()
        };
        let ok = ClaimFacts {
            customer_id: 1,
            pooled_at: Some(NOW - 2 * DAY),
            ..Default::default()
        };
        assert!(check_claim(&r, &ok, "li", "public", NOW).is_ok());
        let fresh = ClaimFacts {
            pooled_at: Some(NOW - 3600),
            ..ok.clone()
        };
        assert!(matches!(
            check_claim(&r, &fresh, "li", "public", NOW),
            Err(Error::FreshHold { .. })
        ));
        let cool = ClaimFacts {
            claimer_lost_at: Some(NOW - 6 * DAY),
            ..ok.clone()
        };
        assert!(matches!(
            check_claim(&r, &cool, "li", "public", NOW),
            Err(Error::Cooldown { .. })
        ));
        let cooled = ClaimFacts {
            claimer_lost_at: Some(NOW - 7 * DAY),
            ..ok.clone()
        };
        assert!(check_claim(&r, &cooled, "li", "public", NOW).is_ok());
        let full = ClaimFacts {
            owned: 2,
            ..ok.clone()
        };
        let e = check_claim(&r, &full, "li", "public", NOW).unwrap_err();
        assert_eq!(
            e.to_string(),
            "limit reached: li owns 2/2 customers in pool 'public'"
        );
        let capped = ClaimFacts {
            claims_today: 3,
            ..ok
        };
        assert!(matches!(
            check_claim(&r, &capped, "li", "public", NOW),
            Err(Error::DailyCap { .. })
        ));
    }

    #[test]
    fn won_stages_count_only_when_asked() {
        let r = Rules::default();
        assert!(counts_towards_limit(&r, "lead"));
        assert!(!counts_towards_limit(&r, "customer"));
        assert!(counts_towards_limit(
            &Rules {
                count_won: true,
                ..r
            },
            "loyal"
        ));
    }
}
