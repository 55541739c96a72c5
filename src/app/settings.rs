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
pub const SETTINGS: &[(&str, &str)] = &[(
    "timezone",
    "IANA time zone for today, daily caps, agenda, reports and printed times (default: the system's)",
)];

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
