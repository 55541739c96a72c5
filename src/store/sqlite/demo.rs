//! Bulk loading of generated demo data (`pool demo`): one transaction, cached statements.
use rusqlite::{params, Connection};

use super::{teams, users};
use crate::demo::{generate, DemoSummary, ACTIONS, KINDS, PEOPLE, PRODUCTS, SUMMARIES};
use crate::domain::customer::{validate, CustomerInput};
use crate::domain::roles::Role;
use crate::domain::synthetic::Rng;
use crate::error::Result;

const DAY: i64 = 86_400;

/// Loads `n` generated customers (and their people, history and plans) in one transaction.
/// `progress` is called every 10,000 customers.
pub fn load(
    conn: &Connection,
    n: u64,
    seed: u64,
    now: i64,
    progress: &mut dyn FnMut(u64),
) -> Result<DemoSummary> {
    let mut sum = DemoSummary::default();
    let mut members = Vec::new();
    for (login, display, team, role) in PEOPLE {
        let team_id = teams::ensure(conn, team, now)?;
        let id = match users::find(conn, login)? {
            Some(u) => u.id,
            None => {
                sum.users += 1;
                users::insert(conn, login, Some(display), team_id, *role, now)?
            }
        };
        if matches!(role, Role::Member | Role::Manager) && team.starts_with("sales") {
            members.push(id);
        }
    }
    // A team pool for sales-east next to the public one.
    conn.execute(
        "INSERT OR IGNORE INTO pools (name, created_at) VALUES ('east', ?1)",
        [now],
    )?;
    let east: i64 = conn.query_row("SELECT id FROM pools WHERE name = 'east'", [], |r| r.get(0))?;
    conn.execute(
        "INSERT OR IGNORE INTO pool_rules (pool_id) VALUES (?1)",
        [east],
    )?;
    conn.execute(
        "INSERT OR IGNORE INTO pool_teams (pool_id, team_id) SELECT ?1, id FROM teams WHERE name = 'sales-east'",
        [east],
    )?;
    // Rules that make the demo's stale and agenda views interesting.
    conn.execute(
        "UPDATE pool_rules SET recycle_no_contact_days = 30, recycle_no_deal_days = 90,
            reclaim_cooldown_days = 7, warn_days = 5 WHERE recycle_no_contact_days = 0",
        [],
    )?;

    let mut ins_customer = conn.prepare_cached(
        "INSERT INTO customers (name, company, phone, email, city, address, source, stage, tags,
            notes, phone_key, email_key, name_key, company_key, pool_id, owner_id, created_at,
            updated_at, claimed_at, pooled_at, last_contact_at, won_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
            ?18, ?19, ?20, ?21, ?22)",
    )?;
    let mut ins_tag = conn
        .prepare_cached("INSERT OR IGNORE INTO customer_tags (tag, customer_id) VALUES (?1, ?2)")?;
    let mut ins_event = conn.prepare_cached(
        "INSERT INTO ownership_events (customer_id, event, to_user, by_user, pool_id, at)
         VALUES (?1, 'claim', ?2, ?2, ?3, ?4)",
    )?;
    let mut ins_interaction = conn.prepare_cached(
        "INSERT INTO interactions (customer_id, user_id, kind, summary, at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    )?;
    let mut ins_followup = conn.prepare_cached(
        "INSERT INTO followups (customer_id, assignee_id, created_by, due, action, status, created_at)
         VALUES (?1, ?2, ?2, ?3, ?4, 'open', ?5)",
    )?;
    let mut ins_deal = conn.prepare_cached(
        "INSERT INTO deals (customer_id, user_id, amount_minor, currency, product, on_date, created_at)
         VALUES (?1, ?2, ?3, 'CNY', ?4, ?5, ?6)",
    )?;

    let mut rng = Rng::new(seed ^ 0x9e37_79b9_7f4a_7c15);
    for (i, d) in generate(seed, n, 0.10).enumerate() {
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
        let f = match validate(&input, true) {
            Ok(f) => f,
            Err(_) => {
                sum.skipped_invalid += 1;
                continue;
            }
        };
        let created = now - DAY - rng.below(365) as i64 * DAY - rng.below(DAY as u64) as i64;
        let won = d.stage != "lead";
        let owned = won || rng.chance(0.35);
        let (pool_id, owner, claimed, pooled, contact) = if owned {
            let owner = *rng.pick(&members);
            let claimed = created + rng.below(((now - created) / 2).max(1) as u64) as i64;
            // Last contact within the last 45 days: some are due for recycling.
            let contact = (now - rng.below(45 * DAY as u64) as i64).max(claimed);
            (1, Some(owner), Some(claimed), None, Some(contact))
        } else {
            let pool = if rng.chance(0.1) { east } else { 1 };
            (pool, None, None, Some(created), None)
        };
        let won_at = if won { contact } else { None };
        ins_customer.execute(params![
            f.name,
            f.company,
            f.phone,
            f.email,
            f.city,
            f.address,
            f.source,
            d.stage,
            f.tags.join(","),
            f.notes,
            f.keys.phone,
            f.keys.email,
            f.keys.name,
            f.keys.company,
            pool_id,
            owner,
            created,
            contact.unwrap_or(created),
            claimed,
            pooled,
            contact,
            won_at,
        ])?;
        let id = conn.last_insert_rowid();
        for t in &f.tags {
            ins_tag.execute(params![crate::domain::normalize::tag_key(t), id])?;
        }
        sum.customers += 1;
        if let (Some(owner), Some(claimed), Some(contact)) = (owner, claimed, contact) {
            sum.owned += 1;
            ins_event.execute(params![id, owner, pool_id, claimed])?;
            let k = 1 + rng.below(2);
            for j in 0..k {
                let at = contact - j as i64 * (1 + rng.below(10) as i64) * DAY;
                ins_interaction.execute(params![
                    id,
                    owner,
                    rng.pick(KINDS),
                    rng.pick(SUMMARIES),
                    at.max(claimed)
                ])?;
                sum.interactions += 1;
            }
            if rng.chance(0.25) {
                let due =
                    chrono::DateTime::from_timestamp(now + (rng.below(20) as i64 - 8) * DAY, 0)
                        .map(|t| t.format("%Y-%m-%d").to_string())
                        .unwrap_or_default();
                ins_followup.execute(params![id, owner, due, rng.pick(ACTIONS), contact])?;
                sum.followups += 1;
            }
            if won {
                let amount = (5_000 + rng.below(200_000)) as i64 * 100;
                let on = chrono::DateTime::from_timestamp(contact, 0)
                    .map(|t| t.format("%Y-%m-%d").to_string())
                    .unwrap_or_default();
                ins_deal.execute(params![id, owner, amount, rng.pick(PRODUCTS), on, contact])?;
                sum.deals += 1;
            }
        } else {
            sum.pooled += 1;
        }
        if (i as u64 + 1).is_multiple_of(10_000) {
            progress(i as u64 + 1);
        }
    }
    Ok(sum)
}
