//! `pool settings show|set`: database-wide settings, per team where it makes sense.
//! Today: the time zone that decides "today", the daily claim cap's day, agenda and
//! reports by day, and how times print.
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::json;

use super::scope;
use crate::domain::roles::{Action, User};
use crate::error::{Error, Result};
use crate::store::ops::audit::Record;
use crate::store::{Backend, Tx};

/// The settings there are, with what they mean.
pub const SETTINGS: &[(&str, &str)] = &[
    (
        "timezone",
        "IANA time zone for today, daily caps, agenda, reports and printed times (default: the system's)",
    ),
    (
        "key_lookups_per_day",
        "server mode: whole phone/e-mail lookups (search, duplicate checks of add and import) a non-admin may make a day (default: 20000)",
    ),
];

/// The daily quota of whole-key lookups when `key_lookups_per_day` is not set (the
/// server's migration 20 has the same number).
pub const KEY_LOOKUPS_PER_DAY: u64 = 20_000;

fn key(name: &str, team: Option<i64>) -> String {
    match team {
        Some(t) => format!("{name}:team:{t}"),
        None => name.to_string(),
    }
}

/// The zone configured for a team (its own, else the database's), if any.
pub fn zone_for(tx: &mut dyn Tx, team_id: i64) -> Result<Option<Tz>> {
    let v = match tx.setting(&key("timezone", Some(team_id)))? {
        Some(v) => Some(v),
        None => tx.setting("timezone")?,
    };
    Ok(v.and_then(|v| crate::clock::parse_zone(&v)))
}

/// One setting as shown.
#[derive(Debug, Serialize)]
pub struct Shown {
    pub setting: String,
    pub team: Option<String>,
    pub value: Option<String>,
    /// What applies when it is not set.
    pub effective: String,
    pub meaning: String,
}

/// Every setting, for the database and (given) one team.
pub fn show(store: &mut dyn Backend, me: &User, team: Option<&str>) -> Result<Vec<Shown>> {
    scope::require(me, Action::ReadRules)?;
    let mut tx = store.read()?;
    let team_id = team.map(|t| tx.team_id(t)).transpose()?;
    let mut out = Vec::new();
    for (name, meaning) in SETTINGS {
        if *name == "key_lookups_per_day" {
            // One number for the whole database.
            if team.is_some() {
                continue;
            }
            let value = tx.setting(name)?;
            out.push(Shown {
                setting: name.to_string(),
                team: None,
                effective: value
                    .clone()
                    .unwrap_or_else(|| KEY_LOOKUPS_PER_DAY.to_string()),
                value,
                meaning: meaning.to_string(),
            });
            continue;
        }
        let value = tx.setting(&key(name, team_id))?;
        let effective = match team_id {
            Some(t) => zone_for(&mut *tx, t)?,
            None => tx.setting(name)?.and_then(|v| crate::clock::parse_zone(&v)),
        }
        .unwrap_or_else(crate::clock::system_zone)
        .name()
        .to_string();
        out.push(Shown {
            setting: name.to_string(),
            team: team.map(str::to_string),
            value,
            effective,
            meaning: meaning.to_string(),
        });
    }
    Ok(out)
}

/// Sets (or with None clears) a setting for the database or one team (admin); audited.
pub fn set(
    store: &mut dyn Backend,
    me: &User,
    name: &str,
    value: Option<&str>,
    team: Option<&str>,
    now: i64,
) -> Result<()> {
    scope::require(me, Action::ManageRules)?;
    let value = match (name, value) {
        ("timezone", Some(v)) => Some(
            crate::clock::parse_zone(v)
                .ok_or_else(|| {
                    Error::invalid_hint(
                        "timezone",
                        format!("'{v}' is not an IANA time zone"),
                        "e.g. Asia/Shanghai, Asia/Hong_Kong, Europe/Berlin, UTC",
                    )
                })?
                .name()
                .to_string(),
        ),
        ("timezone", None) => None,
        ("key_lookups_per_day", _) if team.is_some() => {
            return Err(Error::invalid_hint(
                "key_lookups_per_day",
                "it is one number for the whole database",
                "leave out --team",
            ))
        }
        ("key_lookups_per_day", Some(v)) => Some(
            v.trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= 999_999_999_999)
                .ok_or_else(|| {
                    Error::invalid_hint(
                        "key_lookups_per_day",
                        format!("'{v}' is not a number of lookups"),
                        "a whole number such as 100000 (0: none for non-admins)",
                    )
                })?
                .to_string(),
        ),
        ("key_lookups_per_day", None) => None,
        _ => {
            return Err(Error::invalid_hint(
                "setting",
                format!("'{name}' is not a setting"),
                format!(
                    "settings: {}",
                    SETTINGS.iter().map(|s| s.0).collect::<Vec<_>>().join(", ")
                ),
            ))
        }
    };
    let mut tx = store.write()?;
    let team_id = team.map(|t| tx.team_id(t)).transpose()?;
    let k = key(name, team_id);
    let before = tx.setting(&k)?;
    tx.set_setting(&k, value.as_deref())?;
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action: "settings_set",
        entity: "setting",
        entity_id: team_id,
        before: Some(json!({"setting": name, "team": team, "value": before})),
        after: Some(json!({"setting": name, "team": team, "value": value})),
    })?;
    tx.commit()
}
