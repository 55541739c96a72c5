//! Users.
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::domain::roles::Role;
pub use crate::domain::roles::User;
use crate::error::{Error, Result};

const SELECT: &str = "SELECT u.id, u.login, u.display_name, u.team_id, t.name, u.role, u.active
                      FROM users u JOIN teams t ON t.id = u.team_id";

fn from_row(r: &Row) -> rusqlite::Result<User> {
    let role: String = r.get(5)?;
    Ok(User {
        id: r.get(0)?,
        login: r.get(1)?,
        display_name: r.get(2)?,
        team_id: r.get(3)?,
        team: r.get(4)?,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        active: r.get(6)?,
    })
}

pub fn find(conn: &Connection, login: &str) -> Result<Option<User>> {
    Ok(conn
        .prepare_cached(&format!("{SELECT} WHERE u.login = ?1"))?
        .query_row([login], from_row)
        .optional()?)
}

pub fn get(conn: &Connection, login: &str) -> Result<User> {
    find(conn, login)?.ok_or_else(|| Error::not_found("user", login))
}

pub fn by_id(conn: &Connection, id: i64) -> Result<User> {
    conn.prepare_cached(&format!("{SELECT} WHERE u.id = ?1"))?
        .query_row([id], from_row)
        .optional()?
        .ok_or_else(|| Error::not_found("user", id))
}

pub fn count(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?)
}

pub fn insert(
    conn: &Connection,
    login: &str,
    display_name: Option<&str>,
    team_id: i64,
    role: Role,
    now: i64,
) -> Result<i64> {
    crate::identity::check_login(login)?;
    // Logins are unique without regard to case: `LiHua` is not a second `lihua`.
    let taken: Option<String> = conn
        .prepare_cached("SELECT login FROM users WHERE login = ?1 COLLATE NOCASE")?
        .query_row([login], |r| r.get(0))
        .optional()?;
    if let Some(other) = taken {
        return Err(Error::Conflict(format!("user '{other}' already exists")));
    }
    conn.prepare_cached(
        "INSERT INTO users (login, display_name, team_id, role, active, created_at)
         VALUES (?1, ?2, ?3, ?4, 1, ?5)",
    )?
    .execute(params![login, display_name, team_id, role.as_str(), now])?;
    Ok(conn.last_insert_rowid())
}

pub fn list(conn: &Connection, team: Option<&str>, include_inactive: bool) -> Result<Vec<User>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE (?1 IS NULL OR t.name = ?1) AND (?2 OR u.active = 1) ORDER BY t.name, u.login"
    ))?;
    let rows = stmt.query_map(params![team, include_inactive], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn set_role(conn: &Connection, id: i64, role: Role) -> Result<()> {
    conn.prepare_cached("UPDATE users SET role = ?2 WHERE id = ?1")?
        .execute(params![id, role.as_str()])?;
    Ok(())
}

pub fn set_team(conn: &Connection, id: i64, team_id: i64) -> Result<()> {
    conn.prepare_cached("UPDATE users SET team_id = ?2 WHERE id = ?1")?
        .execute(params![id, team_id])?;
    Ok(())
}

pub fn set_active(conn: &Connection, id: i64, active: bool, now: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE users SET active = ?2, deactivated_at = CASE WHEN ?2 THEN NULL ELSE ?3 END WHERE id = ?1",
    )?
    .execute(params![id, active, now])?;
    Ok(())
}

pub fn active_admins(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM users WHERE role = 'admin' AND active = 1")?
        .query_row([], |r| r.get(0))?)
}
