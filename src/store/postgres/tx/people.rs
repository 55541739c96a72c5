//! Users are login roles: added, re-roled and deactivated only through the server's
//! `pool_private` functions, which change the role and its `users` row together.
use postgres::Row;

use super::PgTx;
use crate::domain::roles::Role;
use crate::error::{Error, Result};
use crate::store::ops::people::{PeopleOps, TeamRow};
use crate::store::ops::PoolOps;
use crate::store::User;

const SELECT: &str = "SELECT u.id, u.login, u.display_name, u.team_id, t.name, u.role, u.active
                      FROM users u JOIN teams t ON t.id = u.team_id";

fn user_row(r: &Row) -> User {
    let role: String = r.get(5);
    User {
        id: r.get(0),
        login: r.get(1),
        display_name: r.get(2),
        team_id: r.get(3),
        team: r.get(4),
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        active: r.get(6),
    }
}

impl PgTx<'_> {
    pub(crate) fn user_with_id(&mut self, id: i64) -> Result<User> {
        self.opt(&format!("{SELECT} WHERE u.id = $1"), &[&id])?
            .map(|r| user_row(&r))
            .ok_or_else(|| Error::not_found("user", id))
    }

    fn deactivate(&mut self, login: &str, heir: Option<&str>) -> Result<()> {
        self.write_rows(
            "SELECT pool_private.deactivate_user($1, $2)",
            &[&login, &heir],
        )?;
        Ok(())
    }
}

impl PeopleOps for PgTx<'_> {
    fn find_user(&mut self, login: &str) -> Result<Option<User>> {
        Ok(self
            .opt(&format!("{SELECT} WHERE u.login = $1"), &[&login])?
            .map(|r| user_row(&r)))
    }

    fn user(&mut self, login: &str) -> Result<User> {
        self.find_user(login)?
            .ok_or_else(|| Error::not_found("user", login))
    }

    fn user_by_id(&mut self, id: i64) -> Result<User> {
        self.user_with_id(id)
    }

    fn users(&mut self, team: Option<&str>, include_inactive: bool) -> Result<Vec<User>> {
        Ok(self
            .rows(
                &format!(
                    "{SELECT} WHERE ($1::text IS NULL OR t.name = $1) AND ($2 OR u.active) ORDER BY t.name, u.login"
                ),
                &[&team, &include_inactive],
            )?
            .iter()
            .map(user_row)
            .collect())
    }

    fn user_count(&mut self) -> Result<i64> {
        Ok(self.one("SELECT count(*) FROM users", &[])?.get(0))
    }

    fn active_admins(&mut self) -> Result<i64> {
        Ok(self
            .one(
                "SELECT count(*) FROM users WHERE role = 'admin' AND active",
                &[],
            )?
            .get(0))
    }

    /// `pool_private.add_user`: a new LOGIN role in the role's group, CONNECT on this
    /// database, and its users row (no password: the cluster's pg_hba decides how the
    /// role authenticates; the owner can set one).
    fn insert_user(
        &mut self,
        login: &str,
        display_name: Option<&str>,
        team_id: i64,
        role: Role,
        _now: i64,
    ) -> Result<i64> {
        crate::identity::check_login(login)?;
        let team: String = self
            .opt("SELECT name FROM teams WHERE id = $1", &[&team_id])?
            .map(|r| r.get(0))
            .ok_or_else(|| Error::not_found("team", team_id))?;
        let rows = self.write_rows(
            "SELECT pool_private.add_user($1, $2, $3, $4)",
            &[&login, &team, &role.as_str(), &display_name],
        )?;
        rows.first()
            .map(|r| r.get(0))
            .ok_or_else(|| Error::Other("the server returned no id for the new user".into()))
    }

    fn set_role(&mut self, user: i64, role: Role) -> Result<()> {
        let login = self.login_of(user)?;
        self.move_staged()?;
        self.tx.execute(
            "SELECT pool_private.set_user_role($1, $2)",
            &[&login, &role.as_str()],
        )?;
        Ok(())
    }

    /// The server's `set_user_team` (admins only; audited there).
    fn set_team(&mut self, user: i64, team_id: i64) -> Result<()> {
        let login = self.login_of(user)?;
        let team: String = self
            .opt("SELECT name FROM teams WHERE id = $1", &[&team_id])?
            .map(|r| r.get(0))
            .ok_or_else(|| Error::not_found("team", team_id))?;
        self.write_rows(
            "SELECT pool_private.set_user_team($1, $2)",
            &[&login, &team],
        )?;
        Ok(())
    }

    fn set_active(&mut self, user: i64, active: bool, _now: i64) -> Result<()> {
        let u = self.user_with_id(user)?;
        match (active, u.active) {
            // Already done by return_all / transfer_all (deactivate_user) in this
            // transaction, or nothing to do.
            (false, false) | (true, true) => Ok(()),
            (false, true) => self.deactivate(&u.login, None),
            // LOGIN, CONNECT and the group back, with the row (admins only).
            (true, false) => {
                self.write_rows("SELECT pool_private.reactivate_user($1)", &[&u.login])?;
                Ok(())
            }
        }
    }

    fn return_all(
        &mut self,
        owner: i64,
        _by: i64,
        event: &str,
        reason: &str,
        _now: i64,
    ) -> Result<Vec<i64>> {
        let ids = self.owned_ids(owner)?;
        if event == "deactivate" {
            let login = self.login_of(owner)?;
            self.deactivate(&login, None)?;
            return Ok(ids);
        }
        self.intend(event, Some(reason))?;
        self.exec(
            "UPDATE customers SET owner_id = NULL, locked = false WHERE owner_id = $1 AND deleted_at IS NULL",
            &[&owner],
        )?;
        self.intend("", None)?;
        Ok(ids)
    }

    fn team_id(&mut self, name: &str) -> Result<i64> {
        self.opt("SELECT id FROM teams WHERE name = $1", &[&name])?
            .map(|r| r.get(0))
            .ok_or_else(|| Error::not_found("team", name))
    }

    fn insert_team(&mut self, name: &str, now: i64) -> Result<i64> {
        if self
            .opt("SELECT 1 FROM teams WHERE name = $1", &[&name])?
            .is_some()
        {
            return Err(Error::Conflict(format!("team '{name}' already exists")));
        }
        let rows = self.write_rows(
            "INSERT INTO teams (name, created_at) VALUES ($1, $2) RETURNING id",
            &[&name, &now],
        )?;
        rows.first()
            .map(|r| r.get(0))
            .ok_or_else(|| Error::Other("the server returned no id for the new team".into()))
    }

    fn ensure_team(&mut self, name: &str, now: i64) -> Result<i64> {
        match self.opt("SELECT id FROM teams WHERE name = $1", &[&name])? {
            Some(r) => Ok(r.get(0)),
            None => self.insert_team(name, now),
        }
    }

    fn teams(&mut self) -> Result<Vec<TeamRow>> {
        Ok(self
            .rows(
                "SELECT t.id, t.name, count(u.id), coalesce(sum(u.active::int), 0)::bigint
                 FROM teams t LEFT JOIN users u ON u.team_id = t.id
                 GROUP BY t.id ORDER BY t.name",
                &[],
            )?
            .iter()
            .map(|r| TeamRow {
                id: r.get(0),
                name: r.get(1),
                members: r.get(2),
                active_members: r.get(3),
            })
            .collect())
    }
}
