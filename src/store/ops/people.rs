//! Users and teams.
use serde::Serialize;

use crate::domain::roles::Role;
use crate::error::Result;
use crate::store::User;

/// A team with its head count.
#[derive(Debug, Clone, Serialize)]
pub struct TeamRow {
    pub id: i64,
    pub name: String,
    pub members: i64,
    pub active_members: i64,
}

pub trait PeopleOps {
    /// A user by login, if there is one.
    fn find_user(&mut self, login: &str) -> Result<Option<User>>;
    /// A user by login (not found: exit 3).
    fn user(&mut self, login: &str) -> Result<User>;
    /// A user by id (not found: exit 3).
    fn user_by_id(&mut self, id: i64) -> Result<User>;
    /// Users, of one team or all, with or without the deactivated ones.
    fn users(&mut self, team: Option<&str>, include_inactive: bool) -> Result<Vec<User>>;
    /// How many users the database has (none: the first command makes its admin).
    fn user_count(&mut self) -> Result<i64>;
    fn active_admins(&mut self) -> Result<i64>;
    fn insert_user(
        &mut self,
        login: &str,
        display_name: Option<&str>,
        team_id: i64,
        role: Role,
        now: i64,
    ) -> Result<i64>;
    fn set_role(&mut self, user: i64, role: Role) -> Result<()>;
    fn set_team(&mut self, user: i64, team_id: i64) -> Result<()>;
    fn set_active(&mut self, user: i64, active: bool, now: i64) -> Result<()>;
    /// Every customer `owner` has goes back to its pool, with one event each; their ids.
    fn return_all(
        &mut self,
        owner: i64,
        by: i64,
        event: &str,
        reason: &str,
        now: i64,
    ) -> Result<Vec<i64>>;
    /// A team's id (not found: exit 3).
    fn team_id(&mut self, name: &str) -> Result<i64>;
    /// A new team (exists already: exit 5).
    fn insert_team(&mut self, name: &str, now: i64) -> Result<i64>;
    /// A team's id, created if needed.
    fn ensure_team(&mut self, name: &str, now: i64) -> Result<i64>;
    fn teams(&mut self) -> Result<Vec<TeamRow>>;
}
