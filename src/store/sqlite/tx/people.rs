use super::SqliteTx;
use crate::domain::roles::Role;
use crate::error::Result;
use crate::store::ops::people::{PeopleOps, TeamRow};
use crate::store::sqlite::{ownership, teams, users};
use crate::store::User;

impl PeopleOps for SqliteTx<'_> {
    fn find_user(&mut self, login: &str) -> Result<Option<User>> {
        users::find(&self.tx, login)
    }

    fn user(&mut self, login: &str) -> Result<User> {
        users::get(&self.tx, login)
    }

    fn user_by_id(&mut self, id: i64) -> Result<User> {
        users::by_id(&self.tx, id)
    }

    fn users(&mut self, team: Option<&str>, include_inactive: bool) -> Result<Vec<User>> {
        users::list(&self.tx, team, include_inactive)
    }

    fn user_count(&mut self) -> Result<i64> {
        users::count(&self.tx)
    }

    fn active_admins(&mut self) -> Result<i64> {
        users::active_admins(&self.tx)
    }

    fn insert_user(
        &mut self,
        login: &str,
        display_name: Option<&str>,
        team_id: i64,
        role: Role,
        now: i64,
    ) -> Result<i64> {
        users::insert(&self.tx, login, display_name, team_id, role, now)
    }

    fn set_role(&mut self, user: i64, role: Role) -> Result<()> {
        users::set_role(&self.tx, user, role)
    }

    fn set_team(&mut self, user: i64, team_id: i64) -> Result<()> {
        users::set_team(&self.tx, user, team_id)
    }

    fn set_active(&mut self, user: i64, active: bool, now: i64) -> Result<()> {
        users::set_active(&self.tx, user, active, now)
    }

    fn return_all(
        &mut self,
        owner: i64,
        by: i64,
        event: &str,
        reason: &str,
        now: i64,
    ) -> Result<Vec<i64>> {
        ownership::return_all(&self.tx, owner, by, event, reason, now)
    }

    fn team_id(&mut self, name: &str) -> Result<i64> {
        teams::get(&self.tx, name)
    }

    fn insert_team(&mut self, name: &str, now: i64) -> Result<i64> {
        teams::insert(&self.tx, name, now)
    }

    fn ensure_team(&mut self, name: &str, now: i64) -> Result<i64> {
        teams::ensure(&self.tx, name, now)
    }

    fn teams(&mut self) -> Result<Vec<TeamRow>> {
        teams::list(&self.tx)
    }
}
