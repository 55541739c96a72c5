//! `pool pools add|list` and `pool rules show|set`.
use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::json;

use super::Ctx;
use crate::domain::customer::Stage;
use crate::domain::roles::Action;
use crate::domain::rules::{Override, Rules, RULES};
use crate::error::{Error, Result};
use crate::store::{audit, pool, teams};

#[derive(Debug, Subcommand)]
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
            let name = super::user::clean_name("pool", &name)?;
            let me = ctx.require(Action::ManagePools)?;
            let tx = ctx.store()?.begin()?;
            let ids = names
                .iter()
                .map(|t| teams::get(&tx, t))
                .collect::<Result<Vec<_>>>()?;
            let id = pool::add_pool(&tx, &name, &ids, now)?;
            audit::append(
                &tx,
                audit::Record {
                    at: now,
                    actor: &me.login,
                    action: "pool_add",
                    entity: "pool",
                    entity_id: Some(id),
                    before: None,
                    after: Some(json!({"name": name, "teams": names})),
                },
            )?;
            tx.commit()?;
            out.status(format!("added pool '{name}' for {}", names.join(", ")));
            Ok(())
        }
        PoolsCommand::List => {
            ctx.require(Action::ReadCustomers)?;
            let rows = pool::list_pools(&ctx.store()?.conn)?;
            out.rows(&rows, "no pools")
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Show a pool's rules and what they mean
    Show {
        /// Pool (default: public)
        #[arg(long, default_value = "public")]
        pool: String,
    },
    /// Change a pool's rules (admin)
    Set(SetArgs),
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
    /// Claims per user per UTC day (0 = no limit)
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
    /// Apply the recycle days only to one stage or tag: stage=lead, tag=VIP
    #[arg(long = "for", value_name = "stage=S|tag=T")]
    pub scope: Option<String>,
    /// With --for: remove that override
    #[arg(long, requires = "scope")]
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
    rows
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
fn non_negative(name: &str, v: Option<i64>) -> Result<Option<i64>> {
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

pub fn rules(ctx: &mut Ctx, cmd: RulesCommand) -> Result<()> {
    let now = ctx.now()?;
    let out = ctx.out;
    match cmd {
        RulesCommand::Show { pool: name } => {
            ctx.require(Action::ReadRules)?;
            let conn = &ctx.store()?.conn;
            let r = pool::rules(conn, pool::pool_id(conn, &name)?)?;
            if out.is_json() {
                out.record(&r)
            } else {
                out.rows(&rule_rows(&r), "")
            }
        }
        RulesCommand::Set(a) => {
            let me = ctx.require(Action::ManageRules)?;
            let tx = ctx.store()?.begin()?;
            let pid = pool::pool_id(&tx, &a.pool)?;
            let before = pool::rules(&tx, pid)?;
            let mut r = before.clone();
            let contact = non_negative("--recycle-no-contact-days", a.recycle_no_contact_days)?;
            let deal = non_negative("--recycle-no-deal-days", a.recycle_no_deal_days)?;
            if let Some(scope) = &a.scope {
                let (kind, value) = scope
                    .split_once('=')
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .filter(|(k, v)| (k == "stage" || k == "tag") && !v.is_empty())
                    .ok_or_else(|| {
                        Error::invalid("--for", format!("'{scope}' is not stage=S or tag=T"))
                    })?;
                let value = if kind == "stage" {
                    Stage::parse(&value)
                        .ok_or_else(|| {
                            Error::invalid("--for", format!("'{value}' is not a stage"))
                        })?
                        .as_str()
                        .to_string()
                } else {
                    crate::domain::normalize::parse_tags(&value).join(",")
                };
                r.overrides
                    .retain(|o| !(o.scope == kind && o.value == value));
                if !a.remove {
                    if contact.is_none() && deal.is_none() {
                        return Err(Error::Usage(
                            "--for needs --recycle-no-contact-days and/or --recycle-no-deal-days"
                                .into(),
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
            let set = |field: &mut i64, name: &str, v: Option<i64>| -> Result<()> {
                if let Some(v) = non_negative(name, v)? {
                    *field = v;
                }
                Ok(())
            };
            set(&mut r.max_owned, "--max-owned", a.max_owned)?;
            set(&mut r.daily_claims, "--daily-claims", a.daily_claims)?;
            set(
                &mut r.reclaim_cooldown_days,
                "--reclaim-cooldown-days",
                a.reclaim_cooldown_days,
            )?;
            set(&mut r.warn_days, "--warn-days", a.warn_days)?;
            set(&mut r.max_locked, "--max-locked", a.max_locked)?;
            set(
                &mut r.fresh_hold_hours,
                "--fresh-hold-hours",
                a.fresh_hold_hours,
            )?;
            if let Some(b) = a.count_won {
                r.count_won = b;
            }
            if let Some(s) = &a.exempt_stages {
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
                    .collect::<Result<_>>()?;
            }
            if r == before {
                return Err(Error::Usage(
                    "nothing to change: pass a rule such as --max-owned 50".into(),
                ));
            }
            pool::save_rules(&tx, pid, &r)?;
            audit::append(
                &tx,
                audit::Record {
                    at: now,
                    actor: &me.login,
                    action: "rules_set",
                    entity: "pool",
                    entity_id: Some(pid),
                    before: Some(serde_json::to_value(&before)?),
                    after: Some(serde_json::to_value(&r)?),
                },
            )?;
            tx.commit()?;
            out.status(format!("rules of pool '{}' updated", a.pool));
            if out.is_json() {
                out.record(&r)
            } else {
                out.rows(&rule_rows(&r), "")
            }
        }
    }
}
