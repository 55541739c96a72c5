//! Bulk loading of generated demo data (`pool demo`): one transaction, cached statements.
use rusqlite::{params, Connection};

use super::{teams, users};
use crate::demo::plan::plan;
use crate::demo::{DemoSummary, PEOPLE};
use crate::domain::roles::Role;
use crate::error::Result;

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

    for (i, p) in plan(seed, n, members, now).enumerate() {
        let Some(p) = p else {
            sum.skipped_invalid += 1;
            continue;
        };
        let f = &p.fields;
        let pool_id = if p.east { east } else { 1 };
        ins_customer.execute(params![
            f.name,
            f.company,
            f.phone,
            f.email,
            f.city,
            f.address,
            f.source,
            p.stage,
            f.tags.join(","),
            f.notes,
            f.keys.phone,
            f.keys.email,
            f.keys.name,
            f.keys.company,
            pool_id,
            p.owner,
            p.created,
            p.contact.unwrap_or(p.created),
            p.claimed,
            p.pooled,
            p.contact,
            p.won_at,
        ])?;
        let id = conn.last_insert_rowid();
        for t in &f.tags {
            ins_tag.execute(params![crate::domain::normalize::tag_key(t), id])?;
        }
        sum.customers += 1;
        if let (Some(owner), Some(claimed), Some(contact)) = (p.owner, p.claimed, p.contact) {
            sum.owned += 1;
            ins_event.execute(params![id, owner, pool_id, claimed])?;
            for (kind, summary, at) in &p.logs {
                ins_interaction.execute(params![id, owner, kind, summary, at])?;
                sum.interactions += 1;
            }
            if let Some((due, action)) = &p.followup {
                ins_followup.execute(params![id, owner, due, action, contact])?;
                sum.followups += 1;
            }
            if let Some((amount, product, on)) = &p.deal {
                ins_deal.execute(params![id, owner, amount, product, on, contact])?;
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
