//! `pool dedupe [--apply|--interactive]`: the report of duplicate clusters, or merging
//! them through `app::merge` (each cluster its own transaction); `pool merge` and
//! `pool dedupe undo` are in their own files.
mod merge;
mod undo;

use std::io::IsTerminal;

use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::json;

use super::Ctx;
use crate::app::dedupe as app;
use crate::app::merge::{merge_group, Merged};
use crate::domain::matching::{self, Cluster};
use crate::domain::roles::Action;
use crate::error::{Error, Result};
use crate::store::Backend;

pub use merge::{merge, MergeArgs};
use undo::undo;

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
#[command(defer = true)]
pub enum DedupeCommand {
    /// Undo a merge: restore every customer and moved record exactly
    Undo {
        /// The merge id (from the merge's output or `pool audit log --action merge`)
        merge_id: i64,
    },
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

/// The report's object without its clusters (written after it, a batch at a time).
#[derive(Serialize)]
struct ReportHead<'a> {
    summary: &'a DedupeSummary,
}

/// Clusters rendered at once, on another core while this thread writes the batches
/// before them: a big report's rows (and their explanations) are never all in memory.
const ROW_BATCH: usize = 256;
/// Batches being rendered at once.
const IN_FLIGHT: usize = 2;

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

/// Each cluster's labels, from the labels of the clusters' members (in order).
fn split<'l>(clusters: &[&Cluster], labels: &'l [String]) -> Vec<&'l [String]> {
    let mut rest = labels;
    clusters
        .iter()
        .map(|c| {
            let (these, after) = rest.split_at(c.members.len().min(rest.len()));
            rest = after;
            these
        })
        .collect()
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

pub fn run(ctx: &mut Ctx, a: &DedupeArgs) -> Result<()> {
    if let Some(DedupeCommand::Undo { merge_id }) = a.undo {
        return undo(ctx, merge_id);
    }
    let me = ctx.require(Action::Dedupe)?;
    app::check_threshold(a.threshold)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let started = std::time::Instant::now();
    let store: &mut dyn Backend = ctx.store()?;
    let scan = app::scan(store, &me, a.threshold)?;
    let (customers, found) = (scan.customers, &scan.found);
    let model = &found.model;
    let clusters: Vec<&Cluster> = found.clusters.iter().collect();
    // A cluster's row from its members' "name / company" labels and why its weakest
    // link matched.
    let row_with = |c: &Cluster, names: &[String], reasons: String| -> ClusterRow {
        ClusterRow {
            probability: round3(c.score),
            reasons,
            names: names.join(" | "),
            ids: c.members.iter().map(|i| scan.id(*i)).collect(),
            owners: c
                .members
                .iter()
                .map(|i| scan.owner(*i).unwrap_or("(pool)"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    };
    let row = |c: &Cluster, names: &[String]| -> ClusterRow {
        let weakest = c
            .links
            .last()
            .map(|l| {
                model
                    .explain_keys(&scan.keys(l.a), &scan.keys(l.b))
                    .reasons()
            })
            .unwrap_or_default();
        row_with(c, names, weakest)
    };
    // Looked up one cluster at a time (merging: each cluster in its own transaction).
    let describe = |store: &mut dyn Backend, c: &Cluster| -> Result<ClusterRow> {
        let ids: Vec<i64> = c.members.iter().map(|i| scan.id(*i)).collect();
        Ok(row(c, &app::labels(store, &ids)?))
    };
    let mut summary = DedupeSummary {
        customers,
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
        let member_ids = |clusters: &[&Cluster]| -> Vec<i64> {
            clusters
                .iter()
                .flat_map(|c| c.members.iter().map(|i| scan.id(*i)))
                .collect()
        };
        // Every label looked up before anything is written (one read, and a failed
        // lookup leaves no half-written report).
        let labels = app::labels(store, &member_ids(&shown))?;
        let names = split(&shown, &labels);
        if out.is_json() {
            // Each link explained once: the weakest's (the last) is the row's reasons.
            let cluster_json = |c: &Cluster, names: &[String]| {
                let mut reasons = String::new();
                let pairs = c
                    .links
                    .iter()
                    .enumerate()
                    .map(|(k, l)| {
                        let e = model.explain_keys(&scan.keys(l.a), &scan.keys(l.b));
                        if k + 1 == c.links.len() {
                            reasons = e.reasons();
                        }
                        let (x, y) = (scan.id(l.a), scan.id(l.b));
                        PairRow {
                            a: x.min(y),
                            b: x.max(y),
                            probability: round3(e.probability),
                            prior_weight: e.prior_weight,
                            fields: e.fields,
                        }
                    })
                    .collect();
                ClusterJson {
                    row: row_with(c, names, reasons),
                    pairs,
                }
            };
            // Clusters `from..` (a batch) rendered in the report's format.
            let render = |from: usize| -> Result<Vec<u8>> {
                let to = (from + ROW_BATCH).min(shown.len());
                // Room for a typical cluster's JSON each (~1.4 kB).
                let mut buf = Vec::with_capacity((to - from) * 1536);
                for n in from..to {
                    out.json_element(n, &cluster_json(shown[n], names[n]), &mut buf)?;
                }
                Ok(buf)
            };
            return std::thread::scope(|scope| {
                let render = &render;
                let mut made = std::collections::VecDeque::new();
                let mut next = 0;
                let batches = std::iter::from_fn(|| {
                    while next < shown.len() && made.len() < IN_FLIGHT {
                        let from = next;
                        next += ROW_BATCH;
                        made.push_back(scope.spawn(move || render(from)));
                    }
                    let first = made.pop_front()?;
                    Some(
                        first
                            .join()
                            .unwrap_or_else(|e| std::panic::resume_unwind(e)),
                    )
                });
                out.json_with_array(&ReportHead { summary: &summary }, "clusters", batches)
            });
        }
        let rows: Vec<ClusterRow> = shown
            .iter()
            .zip(&names)
            .map(|(c, names)| row(c, names))
            .collect();
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
        let row = describe(store, c)?;
        let mut survivor = None;
        if a.interactive {
            crate::say!(
                "\n{} (probability {:.3}: {})\n  owners: {}",
                row.names,
                row.probability,
                row.reasons,
                row.owners
            );
            for card in app::cards(store, &me, &row.ids, now)? {
                crate::say!("{}", card_line(&card));
            }
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

/// One line per cluster member for `--interactive`: what a person compares.
pub fn card_line(c: &app::Card) -> String {
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    format!(
        "  #{} {} / {} · {} · {} · {} · {} · owner {}",
        c.id,
        dash(&c.name),
        dash(&c.company),
        dash(&c.phone),
        dash(&c.email),
        dash(&c.city),
        dash(&c.address),
        c.owner.clone().unwrap_or_else(|| "(pool)".into())
    )
}
