//! Merging duplicate customers (`pool merge`, `pool dedupe --apply`) and undoing a merge.
//! Every merge is its own transaction with its audit rows: a nightly run that is
//! interrupted keeps the merges it finished and loses none.
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::scope;
use crate::domain::customer::{Customer, CustomerInput};
use crate::domain::merge::{self, plan, Candidate};
use crate::domain::roles::{Action, User};
use crate::domain::rules::day_start;
use crate::error::Result;
use crate::store::ops::audit::Record;
use crate::store::ops::merge::{MergeOf, MergeRecord, MergedFields};
use crate::store::{Backend, Tx};

/// What a merge did.
#[derive(Debug, Serialize)]
pub struct Merged {
    pub merge_id: Option<i64>,
    pub survivor: i64,
    pub merged: Vec<i64>,
    pub result: String,
}

/// What a merge needs to know of one customer.
fn candidate(c: Customer) -> Candidate {
    Candidate {
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
    }
}

/// Pooled members of a group that has an owner go to that owner: only where the owner
/// could claim them now (`domain::merge::check_pooled_joins_owner`).
fn pooled_joins_owner(tx: &mut dyn Tx, group: &[Customer], now: i64) -> Result<()> {
    let Some(owner_id) = group.iter().find_map(|c| c.owner_id) else {
        return Ok(());
    };
    let owner = tx.user_by_id(owner_id)?;
    for c in group.iter().filter(|c| c.owner_id.is_none()) {
        let visible = tx.pool_visible(c.pool_id, owner.team_id)?;
        let rules = tx.rules(c.pool_id)?;
        let facts = tx.claim_facts(
            c.id,
            c.pooled_at,
            owner.id,
            c.pool_id,
            &rules,
            day_start(now),
        )?;
        merge::check_pooled_joins_owner(&owner, c, visible, &rules, &facts, now)?;
    }
    Ok(())
}

/// Merges one group in its own transaction: the oldest survives, or `survivor`.
pub fn merge_group(
    store: &mut dyn Backend,
    me: &User,
    ids: &[i64],
    survivor: Option<i64>,
    score: f64,
    reasons: &str,
    now: i64,
) -> Result<Merged> {
    scope::require(me, Action::Merge)?;
    let mut tx = store.write()?;
    let mut group = Vec::with_capacity(ids.len());
    for id in ids {
        // The one scope rule: another team's customers and pools the team does not see
        // are not the merger's to merge.
        group.push(scope::customer(&mut *tx, me, *id)?);
    }
    pooled_joins_owner(&mut *tx, &group, now)?;
    let owners_before: std::collections::BTreeSet<Option<i64>> =
        group.iter().map(|c| c.owner_id).collect();
    let mut candidates: Vec<Candidate> = group.into_iter().map(candidate).collect();
    if let Some(s) = survivor {
        // The chosen survivor sorts first.
        for c in &mut candidates {
            if c.id == s {
                c.created_at = i64::MIN;
            }
        }
    }
    let p = plan(candidates)?;
    let merged = MergedFields {
        fields: p.fields,
        stage: p.stage,
        custom: p.custom,
        owner_id: p.owner_id,
        last_contact_at: p.last_contact_at,
        won_at: p.won_at,
    };
    // Contact people follow the customer too (the store moves them; undo moves them back).
    let mut contacts_moved = Vec::new();
    for other in &p.others {
        contacts_moved.extend(tx.contacts(*other)?.into_iter().map(|k| k.id));
    }
    let merge_id = tx.merge_customers(&MergeOf {
        survivor: p.survivor,
        others: &p.others,
        merged: &merged,
        score,
        reasons,
        by: me.id,
        at: now,
    })?;
    // Work follows the customer: the merged records' owners' open follow-ups go to the
    // survivor's owner (undo gives them back).
    let mut moved = Vec::new();
    if let Some(owner) = merged.owner_id {
        for from in owners_before {
            moved.extend(tx.move_open_followups(p.survivor, from, owner)?);
        }
    }
    let mut after =
        json!({"merge_id": merge_id, "survivor": p.survivor, "score": score, "reasons": reasons});
    if !moved.is_empty() {
        after["followups_moved"] = json!(moved);
    }
    if !contacts_moved.is_empty() {
        after["contacts_moved"] = json!(contacts_moved);
    }
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action: "merge",
        entity: "customer",
        entity_id: Some(p.survivor),
        before: Some(json!({"merged": p.others})),
        after: Some(after),
    })?;
    // Each merged customer gets its own row (the merge's row is the survivor's), so
    // `pool audit log --customer N` finds it.
    for other in &p.others {
        tx.audit(Record {
            at: now,
            actor: &me.login,
            action: "merged_into",
            entity: "customer",
            entity_id: Some(*other),
            before: Some(json!({"merged_into": null})),
            after: Some(json!({"merge_id": merge_id, "merged_into": p.survivor})),
        })?;
    }
    tx.commit()?;
    Ok(Merged {
        merge_id: Some(merge_id),
        survivor: p.survivor,
        merged: p.others,
        result: "merged".into(),
    })
}

/// Undoes a merge: every customer and moved record back exactly as before it.
pub fn undo(store: &mut dyn Backend, me: &User, merge_id: i64, now: i64) -> Result<MergeRecord> {
    scope::require(me, Action::Merge)?;
    let mut tx = store.write()?;
    let rec = tx.merge_record(merge_id)?;
    merge::check_undo(merge_id, rec.undone, rec.erased)?;
    tx.undo_merge(merge_id, now)?;
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action: "merge_undo",
        entity: "customer",
        entity_id: Some(rec.survivor_id),
        before: Some(json!({"merge_id": merge_id})),
        after: Some(json!({"restored": rec.merged_ids})),
    })?;
    for id in &rec.merged_ids {
        tx.audit(Record {
            at: now,
            actor: &me.login,
            action: "merge_restored",
            entity: "customer",
            entity_id: Some(*id),
            before: Some(json!({"merge_id": merge_id, "merged_into": rec.survivor_id})),
            after: Some(json!({"merged_into": null})),
        })?;
    }
    tx.commit()?;
    Ok(rec)
}
