//! `pool report …`: the numbers a sales manager reads at a glance. Tables with small
//! unicode charts for people, the same numbers in JSON or CSV for scripts.
use std::collections::BTreeMap;
use std::io::Write;

use chrono::{Datelike, Duration, NaiveDate};
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use super::agenda::{recycle_soon, recycle_soon_counts};
use super::output::{Format, Out};
use super::Ctx;
use crate::app::report as app;
use crate::domain::charts::{bar, percent, sparkline};
use crate::domain::dates::parse_date;
use crate::domain::money::{format_totals, Totals};
use crate::domain::roles::Action;
use crate::error::{Error, Result};
use crate::store::ops::reports;
use crate::store::Tx;

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Pool size per pool, owned, by stage, claims/releases/recycles this week vs last
    Summary,
    /// Per user: owned vs limit, locked, contacts (30 days), overdue follow-ups, deals, about to be recycled
    Owners(TeamArg),
    /// The same rolled up by team, and cross-team shares through the public pool
    Teams,
    /// Lead → customer → loyal, churned: counts and conversion rates
    Funnel,
    /// Customers to be recycled within warn_days, by owner, with days left
    Stale(StaleArgs),
    /// Overdue and due follow-ups by assignee
    Followups(TeamArg),
    /// Claims, releases, recycles, interactions and deals per period
    Activity(ActivityArgs),
    /// Completeness and validity per field, duplicate rate, a 0–100 score, worst records
    Quality,
    /// Who read personal data unmasked or exported it, and how much; flags unusual volume
    Access(SinceArg),
}

#[derive(Debug, Args)]
pub struct TeamArg {
    /// Only this team (managers: their own team by default)
    #[arg(long)]
    pub team: Option<String>,
}

#[derive(Debug, Args)]
pub struct StaleArgs {
    #[command(flatten)]
    pub team: TeamArg,
    /// Only customers owned from this pool
    #[arg(long, value_name = "POOL")]
    pub pool: Option<String>,
    /// Customers listed per owner, soonest first; the counts always cover all (0 = list all)
    #[arg(long, default_value_t = 20)]
    pub limit: i64,
}

#[derive(Debug, Args)]
pub struct SinceArg {
    /// Start of the window (default: 7 days ago)
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum By {
    Day,
    Week,
    Month,
}

#[derive(Debug, Args)]
pub struct ActivityArgs {
    /// Only this team's people
    #[arg(long)]
    pub team: Option<String>,
    /// From this date (default: 8 periods back)
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Up to this date, exclusive (default: tomorrow)
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// Period length
    #[arg(long, value_enum, default_value_t = By::Week)]
    pub by: By,
}

fn ts(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp())
        .unwrap_or(0)
}

/// Prints a report: JSON/CSV get `data` (or `rows` for CSV), tables get `draw`.
fn emit<T: Serialize, R: Serialize>(
    out: &Out,
    data: &T,
    rows: &[R],
    draw: impl FnOnce(&Out) -> Result<()>,
) -> Result<()> {
    match out.format {
        Format::Json | Format::Jsonl => out.json(data),
        Format::Csv => out.rows(rows, ""),
        Format::Table => draw(out),
    }
}

fn say(line: impl AsRef<str>) -> Result<()> {
    writeln!(std::io::stdout().lock(), "{}", line.as_ref())?;
    Ok(())
}

pub fn run(ctx: &mut Ctx, cmd: ReportCommand) -> Result<()> {
    let me = ctx.require(Action::Reports)?;
    let clock = crate::clock::now()?;
    let now = clock.timestamp();
    let today = clock.date_naive();
    let out = ctx.out;
    let store = ctx.store()?;
    let mut tx = app::read(store, &me)?;
    match cmd {
        ReportCommand::Summary => {
            #[derive(Serialize)]
            struct Week {
                claims: i64,
                releases: i64,
                recycles: i64,
            }
            #[derive(Serialize)]
            struct Summary {
                total: i64,
                pooled: i64,
                owned: i64,
                pools: Vec<reports::Count>,
                stages: Vec<reports::Count>,
                this_week: Week,
                last_week: Week,
            }
            #[derive(Serialize)]
            struct Line {
                metric: String,
                value: i64,
                chart: String,
            }
            let monday = today - Duration::days(today.weekday().num_days_from_monday() as i64);
            let week = |tx: &mut dyn Tx, from: NaiveDate, to: NaiveDate| -> Result<Week> {
                let ev = tx.events_between(ts(from), ts(to))?;
                let get = |k: &str| {
                    ev.iter()
                        .filter(|c| c.key == k)
                        .map(|c| c.count)
                        .sum::<i64>()
                };
                Ok(Week {
                    claims: get("claim") + get("assign"),
                    releases: get("release"),
                    recycles: get("recycle"),
                })
            };
            let pools = tx.pooled_per_pool()?;
            let pooled: i64 = pools.iter().map(|p| p.count).sum();
            let owned = tx.owned_total()?;
            let s = Summary {
                total: pooled + owned,
                pooled,
                owned,
                pools,
                stages: tx.by_stage()?,
                this_week: week(&mut *tx, monday, today + Duration::days(1))?,
                last_week: week(&mut *tx, monday - Duration::days(7), monday)?,
            };
            let max = s.total.max(1) as f64;
            let mut lines = vec![
                Line {
                    metric: "customers".into(),
                    value: s.total,
                    chart: String::new(),
                },
                Line {
                    metric: "owned".into(),
                    value: s.owned,
                    chart: bar(s.owned as f64, max, 30),
                },
            ];
            for p in &s.pools {
                lines.push(Line {
                    metric: format!("in pool '{}'", p.key),
                    value: p.count,
                    chart: bar(p.count as f64, max, 30),
                });
            }
            for st in &s.stages {
                lines.push(Line {
                    metric: format!("stage {}", st.key),
                    value: st.count,
                    chart: bar(st.count as f64, max, 30),
                });
            }
            for (label, w) in [("this week", &s.this_week), ("last week", &s.last_week)] {
                lines.push(Line {
                    metric: format!("claims {label}"),
                    value: w.claims,
                    chart: String::new(),
                });
                lines.push(Line {
                    metric: format!("releases {label}"),
                    value: w.releases,
                    chart: String::new(),
                });
                lines.push(Line {
                    metric: format!("recycles {label}"),
                    value: w.recycles,
                    chart: String::new(),
                });
            }
            emit(&out, &s, &lines, |o| {
                if s.total == 0 {
                    say("The pool is empty: add customers with `pool add` or `pool import FILE`.")?;
                    return Ok(());
                }
                o.rows(&lines, "")
            })
        }
        ReportCommand::Owners(a) => {
            let team = app::team_scope(&mut *tx, &me, a.team.as_deref())?;
            let rules = tx.rules(1)?;
            let stats = tx.owner_stats(team, now, &today.to_string())?;
            drop(tx);
            let per_owner = recycle_soon_counts(store, team, None, now)?;
            #[derive(Serialize)]
            struct Row {
                user: String,
                team: String,
                owned: i64,
                limit: i64,
                load: String,
                locked: i64,
                contacts_30d: i64,
                overdue_followups: i64,
                deals: i64,
                deal_amount: String,
                recycle_soon: i64,
            }
            let max = stats
                .iter()
                .map(|s| s.owned)
                .max()
                .unwrap_or(0)
                .max(rules.max_owned) as f64;
            let rows: Vec<Row> = stats
                .into_iter()
                .map(|s| Row {
                    load: bar(s.owned as f64, max, 20),
                    recycle_soon: per_owner.get(&s.user).map_or(0, |&(_, n)| n),
                    user: s.user,
                    team: s.team,
                    owned: s.owned,
                    limit: rules.max_owned,
                    locked: s.locked,
                    contacts_30d: s.contacts_30d,
                    overdue_followups: s.overdue_followups,
                    deals: s.deals,
                    deal_amount: format_totals(&s.deal_totals),
                })
                .collect();
            emit(&out, &rows, &rows, |o| {
                o.rows(&rows, "no active users")?;
                if rules.max_owned > 0 {
                    o.status(format!("limit = max_owned of the public pool ({}); the bar is owned vs the largest of limit and owned", rules.max_owned));
                }
                Ok(())
            })
        }
        ReportCommand::Teams => {
            #[derive(Serialize, Default, Clone)]
            struct TeamRow {
                team: String,
                people: i64,
                owned: i64,
                locked: i64,
                contacts_30d: i64,
                overdue_followups: i64,
                deals: i64,
                deal_amount: String,
                #[serde(skip)]
                totals: Totals,
            }
            #[derive(Serialize)]
            struct Share {
                team: String,
                took_from: String,
                customers: i64,
            }
            #[derive(Serialize)]
            struct Teams {
                teams: Vec<TeamRow>,
                cross_team: Vec<Share>,
            }
            let mut by_team: BTreeMap<String, TeamRow> = BTreeMap::new();
            for s in tx.owner_stats(None, now, &today.to_string())? {
                let t = by_team.entry(s.team.clone()).or_insert_with(|| TeamRow {
                    team: s.team.clone(),
                    ..Default::default()
                });
                t.people += 1;
                t.owned += s.owned;
                t.locked += s.locked;
                t.contacts_30d += s.contacts_30d;
                t.overdue_followups += s.overdue_followups;
                t.deals += s.deals;
                for (currency, sum) in s.deal_totals {
                    *t.totals.entry(currency).or_default() += sum;
                }
            }
            let teams: Vec<TeamRow> = by_team
                .into_values()
                .map(|mut t| {
                    t.deal_amount = format_totals(&t.totals);
                    t
                })
                .collect();
            let cross: Vec<Share> = tx
                .cross_team()?
                .into_iter()
                .map(|(team, took_from, customers)| Share {
                    team,
                    took_from,
                    customers,
                })
                .collect();
            let data = Teams {
                teams,
                cross_team: cross,
            };
            emit(&out, &data, &data.teams, |o| {
                o.rows(&data.teams, "no teams with active people")?;
                o.section(
                    "Cross-team shares (customers a team owns that another team released)",
                    &data.cross_team,
                )
            })
        }
        ReportCommand::Funnel => {
            let f = tx.funnel()?;
            #[derive(Serialize)]
            struct Step {
                stage: String,
                customers: i64,
                share: f64,
                chart: String,
            }
            #[derive(Serialize)]
            struct FunnelReport {
                #[serde(flatten)]
                counts: reports::Funnel,
                lead_to_customer_pct: f64,
                customer_to_loyal_pct: f64,
                churn_pct: f64,
                steps: Vec<Step>,
            }
            let max = f.total.max(1) as f64;
            let step = |stage: &str, n: i64| Step {
                stage: stage.into(),
                customers: n,
                share: percent(n, f.total),
                chart: bar(n as f64, max, 30),
            };
            let steps = vec![
                step("lead", f.lead),
                step("customer", f.customer),
                step("loyal", f.loyal),
                step("churned", f.churned),
            ];
            let report = FunnelReport {
                lead_to_customer_pct: percent(f.won, f.total),
                customer_to_loyal_pct: percent(f.loyal, f.won),
                churn_pct: percent(f.churned, f.total),
                steps,
                counts: f,
            };
            emit(&out, &report, &report.steps, |o| {
                if report.counts.total == 0 {
                    return say("No customers yet: the funnel is empty.");
                }
                o.rows(&report.steps, "")?;
                say(format!(
                    "lead → customer {:.1}% (customers with a deal) · customer → loyal {:.1}% · churned {:.1}% of all{}",
                    report.lead_to_customer_pct,
                    report.customer_to_loyal_pct,
                    report.churn_pct,
                    report
                        .counts
                        .median_days_to_first_deal
                        .map(|d| format!(" · median {d:.1} days from creation to first deal"))
                        .unwrap_or_default()
                ))
            })
        }
        ReportCommand::Stale(a) => {
            let team = app::team_scope(&mut *tx, &me, a.team.team.as_deref())?;
            #[derive(Serialize)]
            struct OwnerDue {
                owner: String,
                recycle_soon: i64,
                shown: i64,
                chart: String,
            }
            #[derive(Serialize)]
            struct Stale {
                /// Customers listed per owner, soonest first (0 = all).
                limit_per_owner: i64,
                owners: Vec<OwnerDue>,
                customers: Vec<super::agenda::RecycleSoon>,
            }
            let only_pool = match &a.pool {
                Some(p) => Some(tx.pool_id(p)?),
                None => None,
            };
            // The agenda's queries read the store directly; the report's snapshot ends here.
            drop(tx);
            let counts = recycle_soon_counts(store, team, only_pool, now)?;
            let ids: Vec<i64> = counts.values().map(|&(id, _)| id).collect();
            let customers = recycle_soon(store, &ids, only_pool, now, a.limit)?;
            let max = counts.values().map(|&(_, n)| n).max().unwrap_or(0) as f64;
            let owners = counts
                .into_iter()
                .map(|(owner, (_, n))| OwnerDue {
                    shown: customers.iter().filter(|c| c.owner == owner).count() as i64,
                    chart: bar(n as f64, max, 20),
                    owner,
                    recycle_soon: n,
                })
                .collect();
            let data = Stale {
                limit_per_owner: a.limit,
                owners,
                customers,
            };
            emit(&out, &data, &data.customers, |o| {
                if data.owners.is_empty() {
                    return say("Nothing is about to be recycled.");
                }
                o.rows(&data.owners, "")?;
                o.section("Soonest first", &data.customers)?;
                if data.owners.iter().any(|w| w.shown < w.recycle_soon) {
                    o.status(format!(
                        "showing the {} soonest per owner; --limit 0 lists all",
                        data.limit_per_owner
                    ));
                }
                Ok(())
            })
        }
        ReportCommand::Followups(a) => {
            let team = app::team_scope(&mut *tx, &me, a.team.as_deref())?;
            let rows = tx.followup_load(
                team,
                &today.to_string(),
                &(today + Duration::days(7)).to_string(),
            )?;
            #[derive(Serialize)]
            struct Row {
                assignee: String,
                overdue: i64,
                today: i64,
                next_7_days: i64,
                chart: String,
            }
            let max = rows
                .iter()
                .map(|r| r.overdue + r.today + r.next_7_days)
                .max()
                .unwrap_or(0) as f64;
            let table: Vec<Row> = rows
                .iter()
                .map(|r| Row {
                    assignee: r.assignee.clone(),
                    overdue: r.overdue,
                    today: r.today,
                    next_7_days: r.next_7_days,
                    chart: format!(
                        "{}{}",
                        "!".repeat(usize::from(r.overdue > 0)),
                        bar((r.overdue + r.today + r.next_7_days) as f64, max, 20)
                    ),
                })
                .collect();
            emit(&out, &rows, &rows, |o| {
                o.rows(&table, "No open follow-ups due in the next 7 days.")
            })
        }
        ReportCommand::Activity(a) => {
            let team = app::team_scope(&mut *tx, &me, a.team.as_deref())?;
            let (fmt, step_days) = match a.by {
                By::Day => ("%Y-%m-%d", 1),
                By::Week => ("%Y-W%W", 7),
                By::Month => ("%Y-%m", 31),
            };
            let until = match &a.until {
                Some(d) => parse_date("--until", d, today)?,
                None => today + Duration::days(1),
            };
            let since = match &a.since {
                Some(d) => parse_date("--since", d, today)?,
                None => until - Duration::days(step_days * 8),
            };
            if since >= until {
                return Err(Error::invalid("--since", "must be before --until"));
            }
            let rows = tx.activity(fmt, ts(since), ts(until), team)?;
            emit(&out, &rows, &rows, |o| {
                o.rows(&rows, "No activity in this period.")?;
                if !rows.is_empty() {
                    let spark = |f: fn(&reports::Activity) -> i64| {
                        sparkline(&rows.iter().map(|r| f(r) as f64).collect::<Vec<_>>())
                    };
                    say(format!(
                        "claims {}  releases {}  recycles {}  interactions {}  deals {}",
                        spark(|r| r.claims),
                        spark(|r| r.releases),
                        spark(|r| r.recycles),
                        spark(|r| r.interactions),
                        spark(|r| r.deals)
                    ))?;
                }
                Ok(())
            })
        }
        ReportCommand::Quality => {
            let counts = tx.field_quality()?;
            let (total, fields) = (counts.total, counts.fields.clone());
            let dup = tx.duplicated()?;
            #[derive(Serialize)]
            struct Row {
                field: String,
                filled_pct: f64,
                valid_pct: f64,
                chart: String,
            }
            let rows: Vec<Row> = fields
                .iter()
                .map(|f| Row {
                    field: f.field.clone(),
                    filled_pct: percent(f.filled, total),
                    valid_pct: percent(f.valid, f.filled),
                    chart: bar(f.filled as f64, total.max(1) as f64, 20),
                })
                .collect();
            let get = |name: &str| {
                fields
                    .iter()
                    .find(|f| f.field == name)
                    .cloned()
                    .unwrap_or_default()
            };
            let (named, reachable) = (counts.named, counts.reachable);
            let share = |n: i64| {
                if total == 0 {
                    0.0
                } else {
                    n as f64 / total as f64
                }
            };
            // The score: what a rep needs to act, weighted (sums to 100).
            let score = if total == 0 {
                0.0
            } else {
                35.0 * share(reachable)
                    + 15.0 * share(named)
                    + 10.0 * share(get("city").filled)
                    + 10.0 * share(get("address").filled)
                    + 10.0 * share(get("source").filled)
                    + 20.0 * (1.0 - share(dup))
            };
            #[derive(Serialize)]
            struct Quality {
                customers: i64,
                score: f64,
                score_rule: &'static str,
                duplicate_rate_pct: f64,
                fields: Vec<Row>,
                worst: Vec<reports::Worst>,
            }
            let q = Quality {
                customers: total,
                score: (score * 10.0).round() / 10.0,
                score_rule: "35 × reachable (valid phone or e-mail) + 15 × named (name or company) + 10 × city + 10 × address + 10 × source + 20 × (1 − duplicate rate)",
                duplicate_rate_pct: percent(dup, total),
                fields: rows,
                worst: tx.worst_records(&counts.masks, 10)?,
            };
            emit(&out, &q, &q.fields, |o| {
                if q.customers == 0 {
                    return say("No customers yet: nothing to measure.");
                }
                say(format!(
                    "Data quality score {:.1}/100 over {} customers · duplicates {:.1}%",
                    q.score, q.customers, q.duplicate_rate_pct
                ))?;
                o.rows(&q.fields, "")?;
                o.section("Fix these first", &q.worst)?;
                say(format!("score = {}", q.score_rule))
            })
        }
        ReportCommand::Access(a) => {
            app::require_access_report(&me)?;
            let since = match &a.since {
                Some(d) => parse_date("--since", d, today)?,
                None => today - Duration::days(7),
            };
            let from = ts(since);
            let days = ((now - from) as f64 / 86_400.0).max(1.0);
            let mut rows = tx.access(from, now + 1)?;
            for r in &mut rows {
                let volume = (r.unmasked_rows + r.exported_rows) as f64;
                // Unusual: more than 3× the user's usual daily volume over the window, and at
                // least 100 rows (so small numbers never alarm).
                r.flagged = volume >= 100.0 && volume > 3.0 * r.usual_rows_per_day * days;
            }
            rows.retain(|r| r.unmasked_views + r.exports > 0);
            emit(&out, &rows, &rows, |o| {
                o.rows(&rows, "No unmasked reads or exports in this window.")?;
                say(format!(
                    "flagged = at least 100 rows since {since} and more than 3× the user's usual daily volume (30 days before) × {days:.0} days"
                ))
            })
        }
    }
}
