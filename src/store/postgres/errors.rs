//! The server's refusals, by SQLSTATE, as the crate's errors (DESIGN.md's table), so a
//! refused claim exits with the same code on PostgreSQL as on SQLite.
use crate::error::Error;

/// SQLSTATEs that a bounded retry may cure (serialization failure, deadlock).
pub(crate) fn retryable(e: &postgres::Error) -> bool {
    matches!(e.code().map(|c| c.code()), Some("40001") | Some("40P01"))
}

impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Self {
        let Some(db) = e.as_db_error() else {
            if e.is_closed() {
                return Error::Other(format!("the connection to the pool database was lost: {e}"));
            }
            return Error::Other(format!("PostgreSQL: {e}"));
        };
        let msg = db.message().to_string();
        match db.code().code() {
            "42501" => Error::PermissionDenied {
                role: "pool user".into(),
                action: format!("do this on the server ({msg})"),
            },
            "PT001" => Error::UnknownActor(between(&msg, "pool: ", " is not").unwrap_or(msg)),
            "PT403" | "PT416" => {
                Error::Forbidden(msg.trim_start_matches("permission denied: ").to_string())
            }
            "PT404" => Error::NotFound {
                what: if msg.starts_with("user") {
                    "user"
                } else {
                    "customer"
                },
                id: msg
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("")
                    .trim_matches('\'')
                    .to_string(),
            },
            "PT409" => match msg.as_str() {
                "the last admin keeps the admin role" => Error::LastAdmin,
                "you cannot deactivate yourself" => Error::DeactivateSelf,
                m if m.ends_with("is already deactivated") => {
                    Error::AlreadyDeactivated(between(m, "user '", "'").unwrap_or_default())
                }
                _ => Error::Conflict(msg),
            },
            // limit reached: LOGIN owns N/MAX customers in pool 'POOL'
            "PT410" => Error::LimitReached {
                who: between(&msg, "limit reached: ", " owns").unwrap_or_default(),
                n: num(between(&msg, " owns ", "/")),
                max: num(between(&msg, "/", " customers")),
                pool: between(&msg, "in pool '", "'").unwrap_or_default(),
            },
            // daily claim limit reached: N/MAX today
            "PT411" => Error::DailyCap {
                n: num(between(&msg, "reached: ", "/")),
                max: num(between(&msg, "/", " today")),
            },
            // customer ID is in its re-claim cooldown until TIME[ (…)]
            "PT412" => Error::Cooldown {
                id: num(between(&msg, "customer ", " is")),
                until: after(&msg, "until ")
                    .map(|u| u.split(" (").next().unwrap_or("").to_string())
                    .unwrap_or_default(),
            },
            // customer ID just entered the pool: only a manager can assign it until TIME
            "PT413" => Error::FreshHold {
                id: num(between(&msg, "customer ", " just")),
                until: after(&msg, "until ").unwrap_or_default(),
            },
            "PT414" => Error::PoolNotVisible {
                pool: between(&msg, "pool ", " is not")
                    .unwrap_or_default()
                    .trim_matches('\'')
                    .to_string(),
                team: "your team".into(),
            },
            "PT415" => {
                if msg.starts_with("lock limit") {
                    Error::LockLimit {
                        who: "you".into(),
                        n: num(between(&msg, "reached: ", "/")),
                        max: num(after(&msg, "/")),
                    }
                } else if msg.starts_with("locking is off") {
                    Error::LockingOff {
                        pool: "this pool".into(),
                    }
                } else if msg.contains("is in the pool") {
                    Error::LockPooled {
                        id: num(between(&msg, "customer ", " is")),
                    }
                } else {
                    Error::Locked {
                        id: num(between(&msg, "customer ", " is")),
                    }
                }
            }
            "PT422" | "22P02" | "23514" => Error::invalid("value", msg),
            "23505" => Error::Conflict(format!("already exists: {msg}")),
            "PT800" => Error::Integrity(msg),
            "40001" | "40P01" | "55P03" => Error::Busy(0),
            "57014" => Error::Busy(0),
            code => Error::Other(format!("PostgreSQL {code}: {msg}")),
        }
    }
}

fn between(s: &str, start: &str, end: &str) -> Option<String> {
    let rest = &s[s.find(start)? + start.len()..];
    Some(rest[..rest.find(end)?].to_string())
}

fn after(s: &str, start: &str) -> Option<String> {
    Some(s[s.find(start)? + start.len()..].to_string())
}

fn num(s: Option<String>) -> i64 {
    s.and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}
