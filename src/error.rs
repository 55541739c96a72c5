//! One typed error for the whole tool, with its exit code and a hint.
use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),

    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    #[error("the workbook has no sheet '{name}'")]
    SheetNotFound { name: String, sheets: Vec<String> },

    #[error("unknown user '{0}'")]
    UnknownActor(String),
    #[error("user '{0}' is deactivated")]
    InactiveActor(String),
    #[error("permission denied: a {role} may not {action}")]
    PermissionDenied { role: String, action: String },
    #[error("permission denied: {0}")]
    Forbidden(String),
    #[error("permission denied: POOL_NOW sets the clock for reads and --dry-run only; a change needs the real time unless your OS account is a pool admin")]
    SimulatedClock,

    #[error("customer {id} is already owned by {owner}")]
    AlreadyOwned { id: i64, owner: String },
    #[error("limit reached: {who} owns {n}/{max} customers in pool '{pool}'")]
    LimitReached {
        who: String,
        n: i64,
        max: i64,
        pool: String,
    },
    #[error("daily claim cap reached: {n}/{max} claims today")]
    DailyCap { n: i64, max: i64 },
    #[error("customer {id}: re-claim cooldown until {until}")]
    Cooldown { id: i64, until: String },
    #[error("customer {id} is locked")]
    Locked { id: i64 },
    #[error("customer {id} is fresh in the pool until {until}; only a manager can assign it")]
    FreshHold { id: i64, until: String },
    #[error("pool '{pool}' is not visible to team '{team}'")]
    PoolNotVisible { pool: String, team: String },
    #[error("customer {id} is in the pool '{pool}', not owned by anyone")]
    NotOwned { id: i64, pool: String },
    #[error("customer {id} is already in the pool '{pool}'")]
    AlreadyPooled { id: i64, pool: String },
    #[error("customer {id} is not owned by {user}")]
    NotOwnedBy { id: i64, user: String },
    #[error("customer {id} changed owner meanwhile")]
    ChangedMeanwhile { id: i64 },
    #[error("customer {id} has {n} open follow-up(s); pass --cancel-followups to cancel them, or finish them first")]
    OpenFollowups { id: i64, n: i64 },
    #[error("customer {id} is in the pool; only owned customers can be locked")]
    LockPooled { id: i64 },
    #[error("locking is off in pool '{pool}' (max_locked = 0)")]
    LockingOff { pool: String },
    #[error("lock limit reached: {who} has {n}/{max} locked customers")]
    LockLimit { who: String, n: i64, max: i64 },
    // users and teams
    #[error("you are the last admin; make someone else admin first")]
    LastAdmin,
    #[error("you cannot deactivate yourself")]
    DeactivateSelf,
    #[error("user '{0}' is already deactivated")]
    AlreadyDeactivated(String),
    #[error("{0}")]
    Conflict(String),
    // import and dedupe
    #[error("this import needs {needed} whole phone/e-mail lookups, more than the {left} you have left today (the daily quota, setting key_lookups_per_day); nothing was imported or counted")]
    LookupQuota { needed: u64, left: i64 },
    #[error("customer {id} is in pool '{pool}', which {owner}'s team does not see; a manager can assign it first")]
    MergeOwnerCannotSee {
        id: i64,
        pool: String,
        owner: String,
    },
    #[error("customer {id} would go to {owner}: {reason}; a manager can decide")]
    MergeOwnerRefused {
        id: i64,
        owner: String,
        reason: String,
    },
    #[error("merge {merge_id} was already undone")]
    MergeUndone { merge_id: i64 },
    #[error("merge {merge_id} cannot be undone: a customer in it was erased (pool forget)")]
    MergeErased { merge_id: i64 },
    // customers
    #[error("customer {id} is already erased")]
    AlreadyErased { id: i64 },

    #[error("invalid {field}: {msg}")]
    InvalidInput { field: String, msg: String },
    /// Invalid input with a hint that says what would be accepted.
    #[error("invalid {field}: {msg}")]
    Invalid {
        field: String,
        msg: String,
        hint: String,
    },

    #[error("database is busy (another process held the write lock for more than {0} s)")]
    Busy(u64),

    #[error("integrity failure: {0}")]
    Integrity(String),

    #[error(
        "cannot write in the database's folder: SQLite keeps its -wal and -shm files next to \
         the database, so the folder must be writable"
    )]
    ReadOnlyFolder,

    #[error(
        "database schema version {found} is newer than this pool binary understands ({known})"
    )]
    SchemaTooNew { found: i64, known: i64 },

    #[error(transparent)]
    Sqlite(rusqlite::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Csv(#[from] csv::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Other(String),
    /// Nothing may be printed (stderr is the database): only the exit code speaks.
    #[error("")]
    Silent(u8),
    /// Per-item errors were already printed; this carries the worst exit code.
    #[error("{summary}")]
    Reported { code: u8, summary: String },
}

impl Error {
    pub fn invalid(field: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.into(),
            msg: msg.into(),
        }
    }

    /// Invalid input (exit 6) with a hint that says what is accepted.
    pub fn invalid_hint(
        field: impl Into<String>,
        msg: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Error::Invalid {
            field: field.into(),
            msg: msg.into(),
            hint: hint.into(),
        }
    }

    pub fn not_found(what: &'static str, id: impl ToString) -> Self {
        Error::NotFound {
            what,
            id: id.to_string(),
        }
    }

    /// The exit codes of PRODUCT.md.
    pub fn exit_code(&self) -> u8 {
        use Error::*;
        match self {
            Usage(_) => 2,
            NotFound { .. } | SheetNotFound { .. } => 3,
            UnknownActor(_)
            | InactiveActor(_)
            | PermissionDenied { .. }
            | SimulatedClock
            | Forbidden(_) => 4,
            AlreadyOwned { .. }
            | LimitReached { .. }
            | DailyCap { .. }
            | Cooldown { .. }
            | Locked { .. }
            | FreshHold { .. }
            | PoolNotVisible { .. }
            | NotOwned { .. }
            | AlreadyPooled { .. }
            | NotOwnedBy { .. }
            | ChangedMeanwhile { .. }
            | OpenFollowups { .. }
            | LockPooled { .. }
            | LockingOff { .. }
            | LockLimit { .. }
            | LastAdmin
            | DeactivateSelf
            | AlreadyDeactivated(_)
            | Conflict(_) => 5,
            // import and dedupe
            MergeOwnerCannotSee { .. }
            | MergeOwnerRefused { .. }
            | MergeUndone { .. }
            | MergeErased { .. }
            | LookupQuota { .. } => 5,
            // customers
            AlreadyErased { .. } => 5,
            InvalidInput { .. } | Invalid { .. } | Csv(_) => 6,
            Busy(_) => 7,
            Integrity(_) => 8,
            Sqlite(e) if is_busy(e) => 7,
            Reported { code, .. } | Silent(code) => *code,
            _ => 1,
        }
    }

    pub fn hint(&self) -> Option<String> {
        use Error::*;
        Some(match self {
            LookupQuota { .. } => "each phone and e-mail a member imports is looked up as a whole \
                 key, counted per day; an admin can raise the quota \
                 (pool settings set key_lookups_per_day N) or import the file, or split it"
                .into(),
            UnknownActor(name) => format!(
                "an admin can add the user: pool user add {name} --team TEAM --role member \
                 (your pool user is the one named like your OS account)"
            ),
            InactiveActor(_) => {
                "an admin can re-activate the user: pool user set-role NAME --active".into()
            }
            // A manager refused something is refused an admin's right.
            PermissionDenied { role, .. } if role == "manager" => {
                "ask an admin (pool user list shows who)".into()
            }
            PermissionDenied { .. } | Forbidden(_) => {
                "ask a manager or an admin (pool user list shows who)".into()
            }
            SimulatedClock => "unset POOL_NOW for this command".into(),
            AlreadyOwned { .. } => "ask its owner to release it, or a manager to assign it".into(),
            LimitReached { .. } => "release a customer first (pool release ID --reason ...)".into(),
            DailyCap { .. } => "try again tomorrow, or ask a manager to assign it".into(),
            NotOwned { id, .. } => format!("claim it first: pool claim {id}"),
            Locked { .. } => "a manager can unlock it: pool unlock ID".into(),
            AlreadyPooled { id, .. } => {
                format!("anyone who sees its pool can claim it: pool claim {id}")
            }
            NotOwnedBy { id, .. } | ChangedMeanwhile { id } => {
                format!("look at its owner now: pool show {id}")
            }
            OpenFollowups { id, .. } => format!("see them: pool followup list --customer {id}"),
            LockPooled { id } => format!("claim it first: pool claim {id}"),
            LockingOff { pool } => {
                format!("an admin can turn it on: pool rules set --pool {pool} --max-locked N")
            }
            Cooldown { .. } => {
                "you gave it up recently; wait until then, or ask a manager to assign it".into()
            }
            PoolNotVisible { .. } => {
                "pool pools list shows which teams see each pool; a manager of such a team can assign it".into()
            }
            NotFound { what: "pool", .. } => "pool pools list shows the pools".into(),
            SheetNotFound { sheets, .. } => format!(
                "its sheets are: {} (--sheet NAME; without it, the first sheet is read)",
                sheets.join(", ")
            ),
            NotFound { what: "user", .. } => "pool user list shows the users".into(),
            NotFound { what: "customer", .. } => "pool list shows the customers you see".into(),
            LockLimit { .. } => "unlock another customer first: pool unlock ID".into(),
            LastAdmin => "pool user set-role OTHER admin, then change your own role".into(),
            DeactivateSelf => "another admin can deactivate you".into(),
            AlreadyDeactivated(login) => {
                format!("to give them access again: pool user set-role {login} --active")
            }
            FreshHold { .. } => "a manager can assign it now: pool assign ID --to USER".into(),
            Busy(_) => {
                "another pool command is writing; try again, or raise POOL_BUSY_TIMEOUT (seconds)"
                    .into()
            }
            SchemaTooNew { .. } => "upgrade pool to the version that wrote this database".into(),
            Invalid { hint, .. } => hint.clone(),
            ReadOnlyFolder => "make the folder writable for this account, or copy the database \
                               to a writable folder and pass --db PATH"
                .into(),
            Integrity(_) => "run pool doctor for details; restore from a backup if needed".into(),
            Sqlite(e) if is_busy(e) => "another pool command is writing; try again".into(),
            _ => return None,
        })
    }
}

impl From<rusqlite::Error> for Error {
    /// SQLITE_BUSY after the busy timeout is "busy" (exit 7), never a raw "database is locked".
    fn from(e: rusqlite::Error) -> Self {
        if is_busy(&e) {
            return Error::Busy(crate::store::sqlite::busy_timeout().as_secs());
        }
        match e.sqlite_error() {
            // A damaged file is an integrity failure (exit 8), whichever command meets it.
            Some(f)
                if matches!(
                    f.code,
                    rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase
                ) =>
            {
                Error::Integrity(format!(
                    "the database file is damaged or not a database ({e})"
                ))
            }
            Some(f) if f.extended_code == SQLITE_READONLY_DIRECTORY => Error::ReadOnlyFolder,
            _ => Error::Sqlite(e),
        }
    }
}

/// SQLITE_READONLY | (6 << 8): the folder of the database is not writable.
const SQLITE_READONLY_DIRECTORY: std::ffi::c_int = 1544;

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(code: std::ffi::c_int) -> Error {
        Error::from(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(code),
            None,
        ))
    }

    #[test]
    fn sqlite_failures_get_their_own_exit_codes_and_words() {
        // SQLITE_CORRUPT and SQLITE_NOTADB
        assert_eq!(sqlite(11).exit_code(), 8);
        assert_eq!(sqlite(26).exit_code(), 8);
        let ro = sqlite(SQLITE_READONLY_DIRECTORY);
        assert!(matches!(ro, Error::ReadOnlyFolder), "{ro:?}");
        assert!(ro.to_string().contains("folder must be writable"));
        assert!(ro.hint().is_some());
        // Plain SQLITE_READONLY (a read-only file) stays what it is.
        assert!(matches!(sqlite(8), Error::Sqlite(_)));
    }
}
