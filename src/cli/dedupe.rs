//! `pool merge A B…`, `pool dedupe [--apply|--interactive]`, `pool dedupe undo MERGE_ID`.
//! Every merge is its own IMMEDIATE transaction with its audit row: a nightly run that
//! is interrupted keeps the merges it finished and loses none.
use std::io::IsTerminal;

use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::Ctx;
use crate::domain::customer::CustomerInput;
use crate::domain::linkage::Model;
use crate::domain::matching::{self, Cluster};
use crate::domain::merge::{plan, Candidate};
use crate::domain::roles::{Action, Role};
use crate::error::{Error, Result};
use crate::store::merge::{self as store_merge, MergedFields};
use crate::store::User;
use crate::store::{audit, customers, pool, Store};

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The customers to merge (the oldest survives)
    #[arg(required = true, num_args = 2..)]
    pub ids: Vec<i64>,
}

#[derive(Debug, Args)]
pub struct DedupeArgs {
    #[command(subcommand)]
    pub undo: Option<DedupeCommand>,
    /// Pairs whose match probability is at least this are duplicates (0–1)
    #[arg(long, default_value_t = matching::DEFAULT_THRESHOLD)]
    pub threshold: f64,
    /// Merge every cluster without asking (for cron)
    #[arg(long, conflicts_with = "interactive")]
    pub apply: bool,
    /// Ask per cluster: merge, skip, or pick the survivor
    #[arg(long)]
    pub interactive: bool,
    /// Show at most N clusters (0 = all)
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

#[derive(Debug, Subcommand)]
pub enum DedupeCommand {
    /// Undo a merge: restore every customer and moved record exactly
    Undo {
        /// The merge id (from the merge's output or `pool audit log --action merge`)
        merge_id: i64,
    },
}

#[derive(Debug, Serialize)]
pub struct Merged {
    pub merge_id: Option<i64>,
    pub survivor: i64,
    pub merged: Vec<i64>,
    pub result: String,
}

fn candidate(conn: &rusqlite::Connection, id: i64) -> Result<Candidate> {
    let c = customers::get(conn, id)?;
    Ok(Candidate {
        id: c.id,
        created_at: c.created_at,
        input: CustomerInput {
            name: c.name,
            company: c.company,
            phone: c.phone,
            email: c.email,
            city: c.city,
            address: c.address,
            source: c.source,
            tags: Some(c.tags),
            notes: c.notes,
        },
        stage: c.stage,
        custom: c
            .custom
            .as_deref()
            .and_then(|s| serde_json::from_str::<Map<String, Value>>(s).ok())
            .unwrap_or_default(),
        owner_id: c.owner_id,
        owner: c.owner,
        last_contact_at: c.last_contact_at,
        won_at: c.won_at,
    })
}

/// A merge of pooled customers into an owned one gives them to the owner ("owned beats
/// pooled"): only where the owner could claim each of them now — a pool their team sees,
/// no re-claim cooldown, no fresh hold. Otherwise the group waits for a manager (who can
/// assign first), so a nightly `dedupe --apply` never hands out what a claim would refuse.
fn pooled_joins_owner_within_rules(
    tx: &rusqlite::Connection,
    group: &[crate::store::Customer],
    now: i64,
) -> Result<()> {
    let Some(owner_id) = group.iter().find_map(|c| c.owner_id) else {
        return Ok(());
    };
    let owner = crate::store::users::by_id(tx, owner_id)?;
    for c in group.iter().filter(|c| c.owner_id.is_none()) {
        if owner.role != Role::Admin && !pool::visible(tx, c.pool_id, owner.team_id)? {
            return Err(Error::Conflict(format!(
                "customer {} is in pool '{}', which {}'s team does not see; a manager can assign it first",
                c.id, c.pool, owner.login
            )));
        }
        let rules = pool::rules(tx, c.pool_id)?;
        let mut facts = pool::claim_facts(
            tx,
            c.id,
            c.pooled_at,
            owner.id,
            c.pool_id,
            &rules,
            crate::domain::rules::day_start(now),
        )?;
        // The group stays one customer: no limit or daily cap is at stake.
        facts.owned = 0;
        facts.claims_today = 0;
        crate::domain::rules::check_claim(&rules, &facts, &owner.login, &c.pool, now).map_err(
            |e| {
                Error::Conflict(format!(
                    "customer {} would go to {}: {e}; a manager can decide",
                    c.id, owner.login
                ))
            },
        )?;
    }
    Ok(())
}

/// Merges one group in its own transaction. `survivor` overrides the oldest.
pub fn merge_group(
    store: &mut Store,
    me: &User,
    ids: &[i64],
    survivor: Option<i64>,
    score: f64,
    reasons: &str,
    now: i64,
) -> Result<Merged> {
    let tx = store.begin()?;
    let mut group = Vec::with_capacity(ids.len());
    let mut customers_in_group = Vec::with_capacity(ids.len());
    for id in ids {
        let c = customers::get(&tx, *id)?;
        // The one scope rule: another team's customers and pools the team does not see
        // are not the merger's to merge.
        super::customer::check_scope(&tx, me, &c)?;
        customers_in_group.push(c);
        group.push(candidate(&tx, *id)?);
    }
    pooled_joins_owner_within_rules(&tx, &customers_in_group, now)?;
    if let Some(s) = survivor {
        // The chosen survivor sorts first.
        for c in &mut group {
            if c.id == s {
                c.created_at = i64::MIN;
            }
        }
    }
    let p = plan(group)?;
    let merged = MergedFields {
        fields: p.fields,
        stage: p.stage,
        custom: p.custom,
        owner_id: p.owner_id,
        last_contact_at: p.last_contact_at,
        won_at: p.won_at,
    };
    let merge_id = store_merge::merge(
        &tx, p.survivor, &p.others, &merged, score, reasons, me.id, now,
    )?;
    audit::append(
        &tx,
        audit::Record {
            at: now,
            actor: &me.login,
            action: "merge",
            entity: "customer",
            entity_id: Some(p.survivor),
            before: Some(json!({"merged": p.others})),
            after: Some(
                json!({"merge_id": merge_id, "survivor": p.survivor, "score": score, "reasons": reasons}),
            ),
        },
    )?;
    // Each merged customer gets its own row (the merge's row is the survivor's), so
    // `pool audit log --customer N` finds it.
    for other in &p.others {
        audit::append(
            &tx,
            audit::Record {
                at: now,
                actor: &me.login,
                action: "merged_into",
                entity: "customer",
                entity_id: Some(*other),
                before: Some(json!({"merged_into": null})),
                after: Some(json!({"merge_id": merge_id, "merged_into": p.survivor})),
            },
        )?;
    }
    tx.commit()?;
    Ok(Merged {
        merge_id: Some(merge_id),
        survivor: p.survivor,
        merged: p.others,
        result: "merged".into(),
    })
}

pub fn merge(ctx: &mut Ctx, a: &MergeArgs) -> Result<()> {
    let me = ctx.require(Action::Merge)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let mut ids = a.ids.clone();
    ids.sort();
    ids.dedup();
    if ids.len() < 2 {
        return Err(Error::invalid(
            "ids",
            "give at least two different customers",
        ));
    }
    let m = merge_group(ctx.store()?, &me, &ids, None, 1.0, "merged by hand", now)?;
    out.status(format!(
        "merged {} into {} (merge {}; undo with pool dedupe undo {})",
        m.merged
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        m.survivor,
        m.merge_id.unwrap_or_default(),
        m.merge_id.unwrap_or_default()
    ));
    out.record(&m)
}

#[derive(Debug, Serialize)]
struct ClusterRow {
    ids: Vec<i64>,
    /// The weakest link's match probability.
    probability: f64,
    /// Why the weakest link matched: each field's level and log2 Bayes factor.
    reasons: String,
    names: String,
    owners: String,
}

/// One pair inside a cluster, with every field's contribution (JSON only).
#[derive(Debug, Serialize)]
struct PairRow {
    a: i64,
    b: i64,
    probability: f64,
    prior_weight: f64,
    fields: Vec<crate::domain::linkage::FieldWeight>,
}

#[derive(Debug, Serialize)]
struct ClusterJson {
    #[serde(flatten)]
    row: ClusterRow,
    pairs: Vec<PairRow>,
}

#[derive(Debug, Serialize)]
struct Skipped {
    ids: Vec<i64>,
    probability: f64,
    reason: String,
}

#[derive(Debug, Serialize)]
struct DedupeSummary {
    customers: usize,
    candidate_pairs: usize,
    clusters: usize,
    duplicates: usize,
    merged: usize,
    skipped_need_manager: usize,
    failed: usize,
    threshold: f64,
    model_prior: f64,
    em_iterations: u32,
    seconds: f64,
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// "name / company" of a customer for the report (its id if it has neither).
fn label(conn: &rusqlite::Connection, id: i64) -> String {
    match customers::get(conn, id) {
        Ok(c) => match (c.name, c.company) {
            (Some(n), Some(co)) => format!("{n} / {co}"),
            (Some(n), None) => n,
            (None, Some(co)) => co,
            (None, None) => format!("#{id}"),
        },
        Err(_) => format!("#{id}"),
    }
}

pub fn run(ctx: &mut Ctx, a: &DedupeArgs) -> Result<()> {
    if let Some(DedupeCommand::Undo { merge_id }) = a.undo {
        return undo(ctx, merge_id);
    }
    let me = ctx.require(Action::Dedupe)?;
    if !(0.0..=1.0).contains(&a.threshold) {
        return Err(Error::invalid("--threshold", "must be between 0 and 1"));
    }
    let now = ctx.now()?;
    let out = ctx.out;
    let started = std::time::Instant::now();
    let store = ctx.store()?;
    let mut records = crate::store::dedupe::records(&store.conn)?;
    let found = matching::find(&mut records, a.threshold);
    let model = &found.model;
    let clusters: Vec<&Cluster> = found.clusters.iter().collect();
    let describe = |conn: &rusqlite::Connection, c: &Cluster| -> ClusterRow {
        let rs: Vec<&matching::Record> = c.members.iter().map(|i| &records[*i]).collect();
        let weakest = c
            .links
            .last()
            .map(|l| model.explain(&records[l.a], &records[l.b]).reasons())
            .unwrap_or_default();
        ClusterRow {
            ids: rs.iter().map(|r| r.id).collect(),
            probability: round3(c.score),
            reasons: weakest,
            names: rs
                .iter()
                .map(|r| label(conn, r.id))
                .collect::<Vec<_>>()
                .join(" | "),
            owners: rs
                .iter()
                .map(|r| r.owner.clone().unwrap_or_else(|| "(pool)".into()))
                .collect::<Vec<_>>()
                .join(", "),
        }
    };
    let mut summary = DedupeSummary {
        customers: records.len(),
        candidate_pairs: found.candidate_pairs,
        clusters: clusters.len(),
        duplicates: clusters.iter().map(|c| c.members.len() - 1).sum(),
        merged: 0,
        skipped_need_manager: 0,
        failed: 0,
        threshold: a.threshold,
        model_prior: round3(model.lambda),
        em_iterations: model.em_iterations,
        seconds: 0.0,
    };
    if !a.apply && !a.interactive {
        let shown: Vec<&Cluster> = clusters
            .iter()
            .take(if a.limit == 0 { usize::MAX } else { a.limit })
            .copied()
            .collect();
        summary.seconds = (started.elapsed().as_secs_f64() * 100.0).round() / 100.0;
        if out.is_json() {
            let rows: Vec<ClusterJson> = shown
                .iter()
                .map(|c| ClusterJson {
                    row: describe(&store.conn, c),
                    pairs: c
                        .links
                        .iter()
                        .map(|l| {
                            let (x, y) = (&records[l.a], &records[l.b]);
                            let e = model.explain(x, y);
                            PairRow {
                                a: x.id.min(y.id),
                                b: x.id.max(y.id),
                                probability: round3(e.probability),
                                prior_weight: e.prior_weight,
                                fields: e.fields,
                            }
                        })
                        .collect(),
                })
                .collect();
            return out.json(&json!({"summary": summary, "clusters": rows}));
        }
        let rows: Vec<ClusterRow> = shown.iter().map(|c| describe(&store.conn, c)).collect();
        out.rows(&rows, "No duplicates found.")?;
        out.status(format!(
            "{} cluster(s), {} duplicate(s) among {} customers ({} candidate pairs, {:.2} s); merge with --apply or --interactive",
            summary.clusters, summary.duplicates, summary.customers, summary.candidate_pairs, summary.seconds
        ));
        return Ok(());
    }
    if a.interactive && !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(Error::Usage(
            "--interactive needs a terminal; use --apply for scripts and cron".into(),
        ));
    }
    let mut merged: Vec<Merged> = Vec::new();
    let mut skipped: Vec<Skipped> = Vec::new();
    for c in &clusters {
        let row = describe(&store.conn, c);
        let mut survivor = None;
        if a.interactive {
            crate::say!(
                "\n{} (probability {:.3}: {})\n  owners: {}",
                row.names,
                row.probability,
                row.reasons,
                row.owners
            );
            let mut items = vec!["merge (oldest survives)".to_string(), "skip".to_string()];
            items.extend(row.ids.iter().map(|i| format!("merge, keep {i}")));
            let pick = dialoguer::Select::new()
                .with_prompt(format!("customers {:?}", row.ids))
                .items(&items)
                .default(0)
                .interact()
                .map_err(|e| Error::Other(format!("prompt failed: {e}")))?;
            match pick {
                1 => continue,
                0 => {}
                n => survivor = row.ids.get(n - 2).copied(),
            }
        }
        let why = format!("probability {:.3}: {}", row.probability, row.reasons);
        match merge_group(store, &me, &row.ids, survivor, c.score, &why, now) {
            Ok(m) => {
                summary.merged += 1;
                merged.push(m);
            }
            // Two owners: a manager decides. Reported, not a failure of the run.
            Err(e) if e.exit_code() == 5 => {
                summary.skipped_need_manager += 1;
                skipped.push(Skipped {
                    ids: row.ids.clone(),
                    probability: row.probability,
                    reason: e.to_string(),
                });
            }
            // A customer changed or vanished since the scan, or is another team's: skip.
            Err(e) if matches!(e.exit_code(), 3 | 4 | 6) => {
                summary.failed += 1;
                skipped.push(Skipped {
                    ids: row.ids.clone(),
                    probability: row.probability,
                    reason: e.to_string(),
                });
            }
            Err(e) => return Err(e),
        }
    }
    summary.seconds = (started.elapsed().as_secs_f64() * 100.0).round() / 100.0;
    if out.is_json() {
        out.json(&json!({"summary": summary, "merged": merged, "skipped": skipped}))?;
    } else {
        out.rows(&merged, "Nothing merged.")?;
        out.section("skipped", &skipped)?;
    }
    out.status(format!(
        "{} merged, {} need a manager (different owners), {} skipped",
        summary.merged, summary.skipped_need_manager, summary.failed
    ));
    if summary.skipped_need_manager > 0 {
        out.warn(format!(
            "{} cluster(s) need a manager: their customers have different owners",
            summary.skipped_need_manager
        ));
    }
    Ok(())
}

/// The match model for scoring a few candidates (`pool add`, `pool import`): the one
/// fitted last on this database, or a new fit on its most recent customers when the
/// database has grown or shrunk by a quarter since (kept in `settings`).
pub fn model_for(conn: &rusqlite::Connection) -> Result<Model> {
    let live = customers::live_count(conn)? as u64;
    if let Some(m) = crate::store::dedupe::saved_model(conn)? {
        let fitted_on = m.real_population;
        let slack = (fitted_on / 4).max(matching::MIN_POPULATION as u64 / 4);
        if live.abs_diff(fitted_on) <= slack {
            return Ok(m);
        }
    }
    let sample = crate::store::dedupe::recent_records(conn, MODEL_SAMPLE)?;
    let mut m = matching::fit(&sample);
    m.real_population = live;
    m.compact(2_000);
    crate::store::dedupe::save_model(conn, &m)?;
    Ok(m)
}

/// Customers the import/add model is fitted on (the most recent ones).
const MODEL_SAMPLE: usize = 100_000;

fn undo(ctx: &mut Ctx, merge_id: i64) -> Result<()> {
    let me = ctx.require(Action::Merge)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let tx = ctx.store()?.begin()?;
    let rec = store_merge::undo(&tx, merge_id, now)?;
    audit::append(
        &tx,
        audit::Record {
            at: now,
            actor: &me.login,
            action: "merge_undo",
            entity: "customer",
            entity_id: Some(rec.survivor_id),
            before: Some(json!({"merge_id": merge_id})),
            after: Some(json!({"restored": rec.merged_ids})),
        },
    )?;
    for id in &rec.merged_ids {
        audit::append(
            &tx,
            audit::Record {
                at: now,
                actor: &me.login,
                action: "merge_restored",
                entity: "customer",
                entity_id: Some(*id),
                before: Some(json!({"merge_id": merge_id, "merged_into": rec.survivor_id})),
                after: Some(json!({"merged_into": null})),
            },
        )?;
    }
    tx.commit()?;
    out.status(format!(
        "merge {merge_id} undone: customers {:?} are back",
        rec.merged_ids
    ));
    out.record(&rec)
}
