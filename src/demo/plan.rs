//! What the demo loader writes for each generated customer: the fields, who owns it and
//! when, and its history. One plan for both backends, so a seed gives the same data on
//! SQLite and on a server; the random draws are made in one fixed order.
use crate::domain::customer::{validate, CustomerFields, CustomerInput};
use crate::domain::synthetic::Rng;

use super::{generate, ACTIONS, KINDS, PRODUCTS, SUMMARIES};

const DAY: i64 = 86_400;

/// An interaction: kind, summary, when.
pub type PlannedLog = (&'static str, &'static str, i64);

/// One demo customer as written.
pub struct Planned {
    pub fields: CustomerFields,
    pub stage: String,
    /// The east pool (else the public one).
    pub east: bool,
    pub owner: Option<i64>,
    pub created: i64,
    pub claimed: Option<i64>,
    pub pooled: Option<i64>,
    pub contact: Option<i64>,
    pub won_at: Option<i64>,
    pub logs: Vec<PlannedLog>,
    /// (due date, action), created at the last contact.
    pub followup: Option<(String, &'static str)>,
    /// (amount in minor units, product, date), created at the last contact.
    pub deal: Option<(i64, &'static str, String)>,
}

fn date(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// `n` planned customers for `seed` (None: a generated row that does not validate),
/// owned ones dealt among `members`.
pub fn plan(
    seed: u64,
    n: u64,
    members: Vec<i64>,
    now: i64,
) -> impl Iterator<Item = Option<Planned>> {
    let mut rng = Rng::new(seed ^ 0x9e37_79b9_7f4a_7c15);
    generate(seed, n, 0.10).map(move |d| {
        let input = CustomerInput {
            name: Some(d.name),
            company: d.company,
            phone: d.phone,
            email: d.email,
            city: Some(d.city),
            address: d.address,
            source: Some(d.source),
            tags: Some(d.tags.join(",")),
            notes: d.notes,
        };
        let fields = validate(&input, true).ok()?;
        let created = now - DAY - rng.below(365) as i64 * DAY - rng.below(DAY as u64) as i64;
        let won = d.stage != "lead";
        let owned = won || rng.chance(0.35);
        let mut p = Planned {
            fields,
            stage: d.stage.to_string(),
            east: false,
            owner: None,
            created,
            claimed: None,
            pooled: None,
            contact: None,
            won_at: None,
            logs: Vec::new(),
            followup: None,
            deal: None,
        };
        if !owned || members.is_empty() {
            p.east = rng.chance(0.1);
            p.pooled = Some(created);
            return Some(p);
        }
        p.owner = Some(*rng.pick(&members));
        let claimed = created + rng.below(((now - created) / 2).max(1) as u64) as i64;
        // Last contact within the last 45 days: some are due for recycling.
        let contact = (now - rng.below(45 * DAY as u64) as i64).max(claimed);
        p.claimed = Some(claimed);
        p.contact = Some(contact);
        p.won_at = won.then_some(contact);
        let k = 1 + rng.below(2);
        for j in 0..k {
            let at = contact - j as i64 * (1 + rng.below(10) as i64) * DAY;
            let kind = *rng.pick(KINDS);
            let summary = *rng.pick(SUMMARIES);
            p.logs.push((kind, summary, at.max(claimed)));
        }
        if rng.chance(0.25) {
            let due = date(now + (rng.below(20) as i64 - 8) * DAY);
            p.followup = Some((due, *rng.pick(ACTIONS)));
        }
        if won {
            let amount = (5_000 + rng.below(200_000)) as i64 * 100;
            p.deal = Some((amount, *rng.pick(PRODUCTS), date(contact)));
        }
        Some(p)
    })
}
