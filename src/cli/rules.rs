//! `pool pools add|list` and `pool rules show|set`.
use clap::{Args, Subcommand};
use serde::Serialize;

use super::Ctx;
use crate::app::rules as app;
use crate::domain::roles::Action;
use crate::domain::rules::{RuleChanges, Rules, RULES};
use crate::error::Result;

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum PoolsCommand {
    /// Add a team pool that only the named teams see and claim from (admin)
    Add {
        /// Pool name
        name: String,
        /// A team that may see the pool (repeatable)
        #[arg(long = "team", required = true)]
        teams: Vec<String>,
    },
    /// List pools, who sees them and how many customers wait in each
    #[command(alias = "ls")]
    List,
}

pub fn pools(ctx: &mut Ctx, cmd: PoolsCommand) -> Result<()> {
    let now = ctx.now()?;
    let out = ctx.out;
    match cmd {
        PoolsCommand::Add { name, teams: names } => {
            // The use case checks the name before the role, as a user expects.
            let me = ctx.actor()?;
            let name = app::add_pool(ctx.store()?, &me, &name, &names, now)?;
            out.status(format!("added pool '{name}' for {}", names.join(", ")));
            Ok(())
        }
        PoolsCommand::List => {
            let me = ctx.require(Action::ReadCustomers)?;
            let rows = app::list_pools(ctx.store()?, &me)?;
            out.rows(&rows, "no pools")
        }
    }
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum RulesCommand {
    /// Show a pool's rules and what they mean
    Show {
        /// Pool (default: public)
        #[arg(long, default_value = "public")]
        pool: String,
    },
    /// Change a pool's rules (admin)
    Set(Box<SetArgs>),
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// Pool (default: public)
    #[arg(long, default_value = "public")]
    pub pool: String,
    /// Customers one user may own from this pool (0 = no limit)
    #[arg(long)]
    pub max_owned: Option<i64>,
    /// Whether customer/loyal stages count towards max_owned
    #[arg(long)]
    pub count_won: Option<bool>,
    /// Claims per user per day: local days in the time zone `pool settings` sets (0 = no limit)
    #[arg(long)]
    pub daily_claims: Option<i64>,
    /// Days before a previous owner may re-claim a customer they released or lost
    #[arg(long)]
    pub reclaim_cooldown_days: Option<i64>,
    /// Owned customers with no interaction for N days go back to the pool (0 = off)
    #[arg(long)]
    pub recycle_no_contact_days: Option<i64>,
    /// Owned customers with no deal N days after the claim go back (0 = off)
    #[arg(long)]
    pub recycle_no_deal_days: Option<i64>,
    /// How many days ahead agenda and reports warn about recycling
    #[arg(long)]
    pub warn_days: Option<i64>,
    /// Stages never recycled, comma-separated (e.g. loyal,customer; "" for none)
    #[arg(long)]
    pub exempt_stages: Option<String>,
    /// Locked customers one user may hold (0 = locking off)
    #[arg(long)]
    pub max_locked: Option<i64>,
    /// Hours a newly pooled customer can only be assigned by a manager, not claimed
    #[arg(long)]
    pub fresh_hold_hours: Option<i64>,
    /// Interaction kinds that count as contact and move the recycle clock, comma-separated
    /// (default call,email,meeting,visit,wechat: a note does not)
    #[arg(long, value_name = "KINDS")]
    pub contact_kinds: Option<String>,
    /// Characters a contact's summary needs to count as contact (default 2: "." does not)
    #[arg(long, value_name = "N")]
    pub min_contact_chars: Option<i64>,
    /// Deal new leads out automatically (pool allocate, pool import --allocate):
    /// off, round_robin or least_loaded
    #[arg(long, value_name = "HOW")]
    pub allocate: Option<String>,
    /// Whom allocation deals to: team:NAME or users:a,b,c
    #[arg(long, value_name = "team:NAME|users:a,b")]
    pub allocate_to: Option<String>,
    /// A follow-up rule on an event: claim (a customer gets an owner), deal, or silent
    /// (a customer is about to be recycled); with --plan and --due-in, or --remove
    #[arg(long, value_name = "EVENT")]
    pub on: Option<String>,
    /// With --on: the follow-up to plan, e.g. "首次联系"
    #[arg(long, value_name = "ACTION", requires = "on")]
    pub plan: Option<String>,
    /// With --on: due so many days after the event (silent: before the recycle date)
    #[arg(long, value_name = "DAYS", requires = "on")]
    pub due_in: Option<i64>,
    /// Apply the recycle days (or the --on rule) only to one stage, level or tag:
    /// stage=lead, level=A, tag=VIP (a stage beats a level, which beats a tag)
    #[arg(long = "for", value_name = "stage=S|level=L|tag=T")]
    pub scope: Option<String>,
    /// With --for or --on: remove that override or follow-up rule
    #[arg(long)]
    pub remove: bool,
}

#[derive(Serialize)]
struct RuleRow {
    rule: String,
    value: String,
    meaning: String,
}

fn rule_rows(r: &Rules) -> Vec<RuleRow> {
    let value = |name: &str| -> String {
        match name {
            "max_owned" => r.max_owned.to_string(),
            "count_won" => r.count_won.to_string(),
            "daily_claims" => r.daily_claims.to_string(),
            "reclaim_cooldown_days" => r.reclaim_cooldown_days.to_string(),
            "recycle_no_contact_days" => r.recycle_no_contact_days.to_string(),
            "recycle_no_deal_days" => r.recycle_no_deal_days.to_string(),
            "warn_days" => r.warn_days.to_string(),
            "exempt_stages" => r.exempt_stages.join(","),
            "max_locked" => r.max_locked.to_string(),
            "fresh_hold_hours" => r.fresh_hold_hours.to_string(),
            "contact_kinds" => r.contact_kinds.join(","),
            "min_contact_chars" => r.min_contact_chars.to_string(),
            "allocate" => r.allocate.clone(),
            "allocate_to" => r.allocate_to.clone(),
            _ => String::new(),
        }
    };
    let mut rows: Vec<RuleRow> = RULES
        .iter()
        .map(|(n, m)| RuleRow {
            rule: n.to_string(),
            value: value(n),
            meaning: m.to_string(),
        })
        .collect();
    for o in &r.overrides {
        let show = |d: Option<i64>| {
            d.map(|d| d.to_string())
                .unwrap_or_else(|| "(pool default)".into())
        };
        rows.push(RuleRow {
            rule: format!("{}={}", o.scope, o.value),
            value: format!(
                "no_contact {} / no_deal {}",
                show(o.recycle_no_contact_days),
                show(o.recycle_no_deal_days)
            ),
            meaning: format!("recycle days for customers with {} {}", o.scope, o.value),
        });
    }
    for f in &r.followups {
        rows.push(RuleRow {
            rule: format!("on {}", f.event),
            value: format!("{} in {} day(s)", f.action, f.due_days),
            meaning: match (f.event.as_str(), f.stage.is_empty()) {
                ("silent", true) => "planned when a customer is about to be recycled".into(),
                (e, true) => format!("planned on every {e}"),
                (e, false) => format!("planned on {e} for stage {}", f.stage),
            },
        });
    }
    rows
}

pub fn rules(ctx: &mut Ctx, cmd: RulesCommand) -> Result<()> {
    let now = ctx.now()?;
    let out = ctx.out;
    let r = match cmd {
        RulesCommand::Show { pool } => {
            let me = ctx.require(Action::ReadRules)?;
            app::show(ctx.store()?, &me, &pool)?
        }
        RulesCommand::Set(a) => {
            let me = ctx.require(Action::ManageRules)?;
            let changes = RuleChanges {
                max_owned: a.max_owned,
                count_won: a.count_won,
                daily_claims: a.daily_claims,
                reclaim_cooldown_days: a.reclaim_cooldown_days,
                recycle_no_contact_days: a.recycle_no_contact_days,
                recycle_no_deal_days: a.recycle_no_deal_days,
                warn_days: a.warn_days,
                exempt_stages: a.exempt_stages.clone(),
                max_locked: a.max_locked,
                fresh_hold_hours: a.fresh_hold_hours,
                scope: a.scope.clone(),
                remove: a.remove,
                contact_kinds: a.contact_kinds.clone(),
                min_contact_chars: a.min_contact_chars,
                allocate: a.allocate.clone(),
                allocate_to: a.allocate_to.clone(),
                on: a.on.clone(),
                plan: a.plan.clone(),
                due_in: a.due_in,
            };
            let r = app::set(ctx.store()?, &me, &a.pool, &changes, now)?;
            out.status(format!("rules of pool '{}' updated", a.pool));
            r
        }
    };
    if out.is_json() {
        out.record(&r)
    } else {
        out.rows(&rule_rows(&r), "")
    }
}
