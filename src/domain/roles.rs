//! Roles and the one permission table (action × role). Every command asks `allowed`
//! before it reads or writes; managers are further limited to their team by the caller.
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Manager,
    Member,
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Member => "member",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "admin" => Role::Admin,
            "manager" => Role::Manager,
            "member" => Role::Member,
            "viewer" => Role::Viewer,
            _ => return None,
        })
    }

    /// Managers and admins see personal data of every customer.
    pub fn sees_all_contacts(self) -> bool {
        matches!(self, Role::Admin | Role::Manager)
    }
}

/// Everything a command can do, named in the domain's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    ReadCustomers,
    AddCustomer,
    EditCustomer,
    DeleteCustomer,
    ForgetCustomer,
    Claim,
    Release,
    Assign,
    Transfer,
    Lock,
    Log,
    FollowUp,
    Deal,
    Import,
    Export,
    ExportUnmasked,
    Dedupe,
    Merge,
    Recycle,
    ManagePools,
    ManageRules,
    ReadRules,
    ManageTeams,
    ManageUsers,
    ReadUsers,
    ReadAudit,
    Reports,
    Demo,
    Backup,
    Restore,
    Doctor,
    Repair,
}

impl Action {
    pub const ALL: [Action; 31] = [
        Action::ReadCustomers,
        Action::AddCustomer,
        Action::EditCustomer,
        Action::DeleteCustomer,
        Action::ForgetCustomer,
        Action::Claim,
        Action::Release,
        Action::Assign,
        Action::Transfer,
        Action::Lock,
        Action::Log,
        Action::FollowUp,
        Action::Deal,
        Action::Import,
        Action::Export,
        Action::ExportUnmasked,
        Action::Dedupe,
        Action::Merge,
        Action::Recycle,
        Action::ManagePools,
        Action::ManageRules,
        Action::ReadRules,
        Action::ManageTeams,
        Action::ManageUsers,
        Action::ReadUsers,
        Action::ReadAudit,
        Action::Reports,
        Action::Demo,
        Action::Backup,
        Action::Restore,
        Action::Doctor,
    ];

    pub fn describe(self) -> &'static str {
        use Action::*;
        match self {
            ReadCustomers => "read customers",
            AddCustomer => "add customers",
            EditCustomer => "edit customers",
            DeleteCustomer => "delete customers",
            ForgetCustomer => "erase personal data",
            Claim => "claim customers",
            Release => "release customers",
            Assign => "assign customers",
            Transfer => "transfer customers",
            Lock => "lock customers",
            Log => "log interactions",
            FollowUp => "plan follow-ups",
            Deal => "record deals",
            Import => "import customers",
            Export => "export customers",
            ExportUnmasked => "export unmasked personal data",
            Dedupe => "run dedupe",
            Merge => "merge customers",
            Recycle => "recycle customers",
            ManagePools => "manage pools",
            ManageRules => "change pool rules",
            ReadRules => "read pool rules",
            ManageTeams => "manage teams",
            ManageUsers => "manage users",
            ReadUsers => "list users",
            ReadAudit => "read the audit log",
            Reports => "read reports",
            Demo => "load demo data",
            Backup => "back up the database",
            Restore => "restore the database",
            Doctor => "run doctor",
            Repair => "repair the database (doctor --fix)",
        }
    }
}

/// The permission table. One row per action: which roles may do it.
pub fn allowed(role: Role, action: Action) -> bool {
    use Action::*;
    use Role::*;
    let admin_only = matches!(role, Admin);
    let manager_up = matches!(role, Admin | Manager);
    let member_up = matches!(role, Admin | Manager | Member);
    match action {
        // Viewers may export, but only ever masked data.
        ReadCustomers | ReadRules | ReadUsers | Reports | Export => true,
        AddCustomer | EditCustomer | Claim | Release | Log | FollowUp | Deal | Import | Lock => {
            member_up
        }
        DeleteCustomer | Assign | Transfer | Merge | Dedupe | ExportUnmasked | ReadAudit
        | Recycle | Doctor => manager_up,
        Repair => admin_only,
        // A backup is a full, unmasked copy of every team's customers: admins only.
        ForgetCustomer | ManagePools | ManageRules | ManageTeams | ManageUsers | Demo | Restore
        | Backup => admin_only,
    }
}

/// A pool user: who acts, and who owns customers.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: i64,
    pub login: String,
    pub display_name: Option<String>,
    pub team_id: i64,
    pub team: String,
    pub role: Role,
    pub active: bool,
}

/// Logins of teams and pools: trimmed, no spaces or control characters, at most 64 chars.
pub fn clean_name(field: &str, s: &str) -> crate::error::Result<String> {
    let s = s.trim();
    if s.is_empty()
        || s.chars().count() > 64
        || s.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(crate::error::Error::invalid(
            field,
            format!("'{s}' must be 1-64 characters without spaces"),
        ));
    }
    Ok(s.to_string())
}

/// An admin may not take away the last active admin's role (their own).
pub fn check_role_change(
    me: &User,
    target: &User,
    to: Role,
    active_admins: i64,
) -> crate::error::Result<()> {
    if target.login == me.login && to != Role::Admin && active_admins <= 1 {
        return Err(crate::error::Error::LastAdmin);
    }
    Ok(())
}

/// Deactivation: not oneself, not twice, and customers go only to an active other user.
pub fn check_deactivate(me: &User, target: &User, heir: Option<&User>) -> crate::error::Result<()> {
    use crate::error::Error;
    if target.login == me.login {
        return Err(Error::DeactivateSelf);
    }
    if !target.active {
        return Err(Error::AlreadyDeactivated(target.login.clone()));
    }
    if let Some(v) = heir {
        if !v.active || v.id == target.id {
            return Err(Error::invalid(
                "--transfer-to",
                format!("'{}' is not an active other user", v.login),
            ));
        }
    }
    Ok(())
}

/// A user for unit tests: login `u{id}`, team `t{team_id}`, active.
#[cfg(test)]
pub(crate) fn test_user(id: i64, role: Role, team_id: i64) -> User {
    User {
        id,
        login: format!("u{id}"),
        display_name: None,
        team_id,
        team: format!("t{team_id}"),
        role,
        active: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_may_do_everything() {
        for a in Action::ALL {
            assert!(allowed(Role::Admin, a), "{a:?}");
        }
    }

    #[test]
    fn viewer_only_reads() {
        for a in Action::ALL {
            let read = matches!(
                a,
                Action::ReadCustomers
                    | Action::ReadRules
                    | Action::ReadUsers
                    | Action::Reports
                    | Action::Export
            );
            assert_eq!(allowed(Role::Viewer, a), read, "{a:?}");
        }
    }

    #[test]
    fn roles_are_ordered() {
        // Whatever a lower role may do, every higher role may do too.
        let order = [Role::Viewer, Role::Member, Role::Manager, Role::Admin];
        for a in Action::ALL {
            for w in order.windows(2) {
                assert!(!allowed(w[0], a) || allowed(w[1], a), "{a:?} {:?}", w);
            }
        }
    }
}

/// Who sees a customer's phone and e-mail unmasked: the same people who may work on it
/// (admins always; managers on pooled customers and their team's; a member on their own
/// — pool privacy; a viewer never). Other teams' customers stay masked to a manager.
pub fn sees_contact(
    role: Role,
    actor_id: i64,
    actor_team: i64,
    owner_id: Option<i64>,
    owner_team: Option<i64>,
) -> bool {
    may_work_on(role, actor_id, actor_team, owner_id, owner_team)
}

/// For queries: which customers' contacts an actor sees unmasked, as a condition the
/// store can put in SQL (the set `sees_contact` describes row by row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContactScope {
    /// Every customer (admins).
    All,
    /// Pooled customers and those owned by this team (managers).
    PooledAndTeam(i64),
    /// Customers this user owns (members).
    Owner(i64),
    /// None (viewers).
    #[default]
    Nothing,
}

pub fn contact_scope(role: Role, actor_id: i64, actor_team: i64) -> ContactScope {
    match role {
        Role::Admin => ContactScope::All,
        Role::Manager => ContactScope::PooledAndTeam(actor_team),
        Role::Member => ContactScope::Owner(actor_id),
        Role::Viewer => ContactScope::Nothing,
    }
}

/// Whether a user may work on (edit, log on, release…) a customer: admins on all;
/// managers on pooled ones and their team's; members on their own.
pub fn may_work_on(
    role: Role,
    actor_id: i64,
    actor_team: i64,
    owner_id: Option<i64>,
    owner_team: Option<i64>,
) -> bool {
    match role {
        Role::Admin => true,
        Role::Manager => owner_id.is_none() || owner_team == Some(actor_team),
        Role::Member => owner_id == Some(actor_id),
        Role::Viewer => false,
    }
}

#[cfg(test)]
mod scope_tests {
    use super::*;

    #[test]
    fn pool_privacy() {
        assert!(sees_contact(Role::Manager, 1, 10, None, None));
        assert!(sees_contact(Role::Manager, 1, 10, Some(2), Some(10)));
        assert!(!sees_contact(Role::Manager, 1, 10, Some(2), Some(11)));
        assert!(!sees_contact(Role::Member, 1, 10, None, None));
        assert!(sees_contact(Role::Member, 1, 10, Some(1), Some(10)));
        assert!(!sees_contact(Role::Member, 1, 10, Some(2), Some(10)));
        assert!(!sees_contact(Role::Viewer, 1, 10, Some(1), Some(10)));
        assert!(sees_contact(Role::Admin, 1, 10, Some(2), Some(11)));
    }

    #[test]
    fn managers_work_within_their_team() {
        assert!(may_work_on(Role::Manager, 1, 10, Some(2), Some(10)));
        assert!(!may_work_on(Role::Manager, 1, 10, Some(2), Some(11)));
        assert!(may_work_on(Role::Manager, 1, 10, None, None));
        assert!(!may_work_on(Role::Member, 1, 10, None, None));
        assert!(may_work_on(Role::Member, 1, 10, Some(1), Some(10)));
        assert!(may_work_on(Role::Admin, 1, 10, Some(2), Some(11)));
    }
}
