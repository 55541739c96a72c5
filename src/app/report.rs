//! Reports read through one snapshot, within the reader's scope: a manager sees their
//! own team's people; the access report is for admins and managers.
use super::scope;
use crate::domain::roles::{Action, Role, User};
use crate::error::{Error, Result};
use crate::store::{Backend, Tx};

/// A read snapshot for a report, if `me` may read reports.
pub fn read<'s>(store: &'s mut dyn Backend, me: &User) -> Result<Box<dyn Tx + 's>> {
    scope::require(me, Action::Reports)?;
    store.read()
}

/// Which team a report covers: the named one (a manager only their own), or by default
/// a manager's own team and everyone for an admin or viewer.
pub fn team_scope(tx: &mut dyn Tx, me: &User, name: Option<&str>) -> Result<Option<i64>> {
    match name {
        Some(name) => {
            let id = tx.team_id(name)?;
            if me.role == Role::Manager && id != me.team_id {
                return Err(Error::Forbidden(format!(
                    "managers see their own team ({})",
                    me.team
                )));
            }
            Ok(Some(id))
        }
        None if me.role == Role::Manager => Ok(Some(me.team_id)),
        None => Ok(None),
    }
}

/// Who reads how much personal data (unmasked reads, exports): admins and managers.
pub fn require_access_report(me: &User) -> Result<()> {
    if !matches!(me.role, Role::Admin | Role::Manager) {
        return Err(Error::PermissionDenied {
            role: me.role.as_str().into(),
            action: "read the access report".into(),
        });
    }
    Ok(())
}
