//! Deciding a merge: who survives, what the survivor's fields become, and when a merge
//! must wait for a manager. Pure.
use serde_json::{Map, Value};

use super::customer::{validate, Customer, CustomerFields, CustomerInput};
use super::normalize::{company_key, name_key};
use super::roles::{Role, User};
use super::rules::{check_claim, ClaimFacts, Rules};
use crate::error::{Error, Result};

/// What a merge needs to know of one customer.
#[derive(Debug, Clone, Default)]
pub struct Candidate {
    pub id: i64,
    pub created_at: i64,
    pub input: CustomerInput,
    pub stage: String,
    pub custom: Map<String, Value>,
    pub owner_id: Option<i64>,
    pub owner: Option<String>,
    pub last_contact_at: Option<i64>,
    pub won_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub survivor: i64,
    pub others: Vec<i64>,
    pub fields: CustomerFields,
    pub stage: String,
    pub custom: Option<String>,
    pub owner_id: Option<i64>,
    pub last_contact_at: Option<i64>,
    pub won_at: Option<i64>,
}

fn stage_rank(s: &str) -> u8 {
    match s {
        "loyal" => 3,
        "customer" => 2,
        "churned" => 1,
        _ => 0,
    }
}

/// The oldest customer survives; its empty fields are filled from the others (oldest
/// first), and a field another member spells more completely (the same key, or the
/// survivor's key as its start, and longer) takes that spelling; tags and custom fields are united; the furthest stage, the latest contact and
/// the first deal are kept. Owned beats pooled; two different owners is refused, for a
/// manager to decide (an owner is never changed silently).
pub fn plan(mut group: Vec<Candidate>) -> Result<Plan> {
    if group.len() < 2 {
        return Err(Error::invalid(
            "ids",
            "a merge needs at least two customers",
        ));
    }
    group.sort_by_key(|c| (c.created_at, c.id));
    let mut owners: Vec<(i64, &str)> = group
        .iter()
        .filter_map(|c| c.owner_id.map(|o| (o, c.owner.as_deref().unwrap_or("?"))))
        .collect();
    owners.sort();
    owners.dedup_by_key(|(o, _)| *o);
    if owners.len() > 1 {
        let names: Vec<&str> = owners.iter().map(|(_, n)| *n).collect();
        return Err(Error::Conflict(format!(
            "customers {} have different owners ({}); a manager must assign them to one owner first",
            group.iter().map(|c| c.id.to_string()).collect::<Vec<_>>().join(", "),
            names.join(", ")
        )));
    }
    let mut merged = group[0].input.clone();
    let mut tags: Vec<String> = Vec::new();
    let mut custom = Map::new();
    for c in &group {
        let i = &c.input;
        for (slot, v) in [
            (&mut merged.name, &i.name),
            (&mut merged.company, &i.company),
            (&mut merged.phone, &i.phone),
            (&mut merged.email, &i.email),
            (&mut merged.city, &i.city),
            (&mut merged.address, &i.address),
            (&mut merged.source, &i.source),
            (&mut merged.notes, &i.notes),
        ] {
            if slot.as_deref().is_none_or(|s| s.trim().is_empty()) {
                slot.clone_from(v);
            }
        }
        // The most complete spelling of the same value: 杭州云帆科技有限公司 over
        // 杭州云帆科技 (same company key, longer), an address with its 号.
        for (slot, v, key) in [
            (
                &mut merged.company,
                &i.company,
                company_key as fn(&str) -> String,
            ),
            (&mut merged.name, &i.name, name_key),
            (&mut merged.address, &i.address, name_key),
        ] {
            if let (Some(have), Some(other)) = (slot.as_deref(), v.as_deref()) {
                let same = key(have) == key(other)
                    || key(other).starts_with(&key(have))
                    || key(have).is_empty();
                if same && other.trim().chars().count() > have.trim().chars().count() {
                    *slot = Some(other.to_string());
                }
            }
        }
        for t in super::normalize::parse_tags(i.tags.as_deref().unwrap_or("")) {
            super::normalize::add_tag(&mut tags, t);
        }
        for (k, v) in &c.custom {
            custom.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    merged.tags = Some(tags.join(","));
    let fields = validate(&merged, false)?;
    Ok(Plan {
        survivor: group[0].id,
        others: group[1..].iter().map(|c| c.id).collect(),
        fields,
        stage: group
            .iter()
            .map(|c| c.stage.clone())
            .max_by_key(|s| stage_rank(s))
            .unwrap_or_else(|| "lead".into()),
        custom: if custom.is_empty() {
            None
        } else {
            Some(Value::Object(custom).to_string())
        },
        owner_id: owners.first().map(|(o, _)| *o),
        last_contact_at: group.iter().filter_map(|c| c.last_contact_at).max(),
        won_at: group.iter().filter_map(|c| c.won_at).min(),
    })
}

/// A merge of pooled customers into an owned one gives them to the owner ("owned beats
/// pooled"): only where the owner could claim each of them now — a pool their team sees
/// (`visible`), no re-claim cooldown, no fresh hold. Otherwise the group waits for a
/// manager (who can assign first), so a nightly `dedupe --apply` never hands out what a
/// claim would refuse.
pub fn check_pooled_joins_owner(
    owner: &User,
    c: &Customer,
    visible: bool,
    rules: &Rules,
    facts: &ClaimFacts,
    now: i64,
) -> Result<()> {
    if owner.role != Role::Admin && !visible {
        return Err(Error::MergeOwnerCannotSee {
            id: c.id,
            pool: c.pool.clone(),
            owner: owner.login.clone(),
        });
    }
    // The group stays one customer: no limit or daily cap is at stake.
    let facts = ClaimFacts {
        owned: 0,
        claims_today: 0,
        ..facts.clone()
    };
    check_claim(rules, &facts, &owner.login, &c.pool, now).map_err(|e| Error::MergeOwnerRefused {
        id: c.id,
        owner: owner.login.clone(),
        reason: e.to_string(),
    })
}

/// Whether a merge may be undone: once only, and not after one of its customers was
/// erased (its before-images went with it).
pub fn check_undo(merge_id: i64, undone: bool, erased: bool) -> Result<()> {
    if undone {
        return Err(Error::MergeUndone { merge_id });
    }
    if erased {
        return Err(Error::MergeErased { merge_id });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(
        id: i64,
        created: i64,
        name: &str,
        phone: Option<&str>,
        email: Option<&str>,
        owner: Option<i64>,
    ) -> Candidate {
        Candidate {
            id,
            created_at: created,
            input: CustomerInput {
                name: Some(name.into()),
                phone: phone.map(String::from),
                email: email.map(String::from),
                ..Default::default()
            },
            stage: "lead".into(),
            owner_id: owner,
            owner: owner.map(|o| format!("u{o}")),
            ..Default::default()
        }
    }

    #[test]
    fn oldest_survives_and_empty_fields_are_filled() {
        let p = plan(vec![
            cand(5, 200, "张伟", None, Some("zw@qq.com"), None),
            cand(9, 100, "张 伟", Some("13800138000"), None, None),
        ])
        .unwrap();
        assert_eq!(p.survivor, 9);
        assert_eq!(p.others, [5]);
        assert_eq!(p.fields.name.as_deref(), Some("张 伟"));
        assert_eq!(p.fields.email.as_deref(), Some("zw@qq.com"));
        assert_eq!(p.fields.phone.as_deref(), Some("13800138000"));
    }

    #[test]
    fn the_survivor_keeps_the_most_complete_spelling() {
        let mut old = cand(1, 100, "张伟", Some("13800138000"), None, None);
        old.input.company = Some("杭州云帆科技".into());
        old.input.address = Some("浙江省杭州市西湖区文三路90".into());
        let mut new = cand(2, 200, "张伟", None, Some("zw@qq.com"), None);
        new.input.company = Some("杭州云帆科技有限公司".into());
        new.input.address = Some("浙江省杭州市西湖区文三路90号".into());
        let mut other = cand(3, 300, "张伟", None, None, None);
        other.input.company = Some("明远贸易有限公司有限公司".into());
        let p = plan(vec![new, old, other]).unwrap();
        assert_eq!(p.survivor, 1);
        assert_eq!(p.fields.company.as_deref(), Some("杭州云帆科技有限公司"));
        assert_eq!(
            p.fields.address.as_deref(),
            Some("浙江省杭州市西湖区文三路90号")
        );
        assert_eq!(p.fields.email.as_deref(), Some("zw@qq.com"));
    }

    #[test]
    fn owned_beats_pooled_and_two_owners_need_a_manager() {
        let p = plan(vec![
            cand(1, 1, "a", None, None, None),
            cand(2, 2, "a", None, None, Some(7)),
        ])
        .unwrap();
        assert_eq!(p.owner_id, Some(7));
        let e = plan(vec![
            cand(1, 1, "a", None, None, Some(3)),
            cand(2, 2, "a", None, None, Some(7)),
        ])
        .unwrap_err();
        assert_eq!(e.exit_code(), 5);
        assert!(e.to_string().contains("different owners (u3, u7)"));
        assert!(plan(vec![
            cand(1, 1, "a", None, None, Some(3)),
            cand(2, 2, "a", None, None, Some(3))
        ])
        .is_ok());
    }

    #[test]
    fn furthest_stage_latest_contact_first_deal() {
        let mut a = cand(1, 1, "a", None, None, None);
        let mut b = cand(2, 2, "a", None, None, None);
        a.stage = "lead".into();
        b.stage = "customer".into();
        a.last_contact_at = Some(10);
        b.last_contact_at = Some(20);
        b.won_at = Some(15);
        let p = plan(vec![a, b]).unwrap();
        assert_eq!(p.stage, "customer");
        assert_eq!(p.last_contact_at, Some(20));
        assert_eq!(p.won_at, Some(15));
    }
}
