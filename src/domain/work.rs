//! The rules of working a customer: what an interaction, a follow-up and a deal must
//! be, and who may plan, close or list whose follow-ups.
use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::dates::check_past;
use crate::domain::normalize::clean_text;
use crate::domain::roles::{Role, User};
use crate::error::{Error, Result};

/// What kind of contact an interaction was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Call,
    Email,
    Meeting,
    Visit,
    Wechat,
    Note,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Call => "call",
            Kind::Email => "email",
            Kind::Meeting => "meeting",
            Kind::Visit => "visit",
            Kind::Wechat => "wechat",
            Kind::Note => "note",
        }
    }
}

/// Free text a person typed (a summary, an action, a note): trimmed, not empty, at
/// most 64 KiB.
pub fn text(field: &str, s: &str) -> Result<String> {
    let t = clean_text(s).ok_or_else(|| Error::invalid(field, "is empty"))?;
    if t.len() > crate::domain::customer::MAX_FIELD_BYTES {
        return Err(Error::invalid(field, "is longer than 64 KiB"));
    }
    Ok(t)
}

/// When an interaction happened: not in the future (five minutes of clock skew
/// allowed), not before ten years ago.
pub fn check_logged_at(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<i64> {
    if at < now {
        check_past(
            "--at",
            crate::clock::today_of(at),
            crate::clock::today_of(now),
        )?;
    }
    if at.timestamp() > now.timestamp() + 300 {
        return Err(Error::invalid(
            "--at",
            "is in the future; log what happened, plan with --next",
        ));
    }
    Ok(at.timestamp())
}

/// May `me` plan work for `who` on a customer owned by `owner`? Admins for anyone;
/// managers for their team; members for themselves or the owner.
pub fn check_assignee(me: &User, who: &User, owner: Option<i64>) -> Result<()> {
    if !who.active {
        return Err(Error::invalid(
            "--assignee",
            format!("'{}' is deactivated", who.login),
        ));
    }
    let ok = match me.role {
        Role::Admin => true,
        Role::Manager => who.team_id == me.team_id,
        _ => who.id == me.id || Some(who.id) == owner,
    };
    if !ok {
        return Err(Error::Forbidden(format!(
            "you may not plan work for '{}'",
            who.login
        )));
    }
    Ok(())
}

/// May `me` close (done/cancel) a follow-up assigned to `assignee` (of `assignee_team`)
/// on a customer owned by `owner`?
pub fn check_close(
    me: &User,
    id: i64,
    assignee: (&str, i64, i64),
    owner: Option<i64>,
) -> Result<()> {
    let (login, assignee_id, assignee_team) = assignee;
    let ok = match me.role {
        Role::Admin => true,
        Role::Manager => assignee_team == me.team_id,
        Role::Member => assignee_id == me.id || owner == Some(me.id),
        Role::Viewer => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::Forbidden(format!("follow-up {id} is {login}'s")))
    }
}

/// May `me` list the follow-ups of a whole team?
pub fn check_list_team(me: &User, team: (&str, i64)) -> Result<()> {
    if me.role == Role::Admin || (me.role == Role::Manager && team.1 == me.team_id) {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "the follow-ups of team '{}' are its manager's to list",
            team.0
        )))
    }
}

/// May `me` list one person's follow-ups?
pub fn check_list_assignee(me: &User, who: &User) -> Result<()> {
    let ok = match me.role {
        Role::Admin => true,
        Role::Manager => who.team_id == me.team_id,
        _ => who.id == me.id,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "the follow-ups of '{}' are not yours to list",
            who.login
        )))
    }
}

/// A deal's amount (minor units) must be positive; its date not in the future nor
/// before ten years ago.
pub fn check_deal(amount_minor: i64, on: NaiveDate, today: NaiveDate) -> Result<NaiveDate> {
    if amount_minor <= 0 {
        return Err(Error::invalid("amount", "must be more than 0"));
    }
    check_past("--on", on, today)
}

/// `7d`, `2w`, `0d` (today) for --due-within: a number of days.
pub fn period_days(s: &str) -> Result<i64> {
    let t = s.trim().to_lowercase();
    let bad = || {
        Error::invalid(
            "--due-within",
            format!("'{s}' is not a period like 7d or 2w"),
        )
    };
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: i64 = num.parse().map_err(|_| bad())?;
    match unit {
        "" | "d" => Ok(n),
        "w" => Ok(n * 7),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::roles::test_user;

    #[test]
    fn periods() {
        assert_eq!(period_days("7d").unwrap(), 7);
        assert_eq!(period_days("2w").unwrap(), 14);
        assert_eq!(period_days("0").unwrap(), 0);
        assert!(period_days("3m").is_err());
        assert!(period_days("d").is_err());
    }

    #[test]
    fn a_member_plans_for_themselves_or_the_owner_only() {
        let me = test_user(1, Role::Member, 1);
        let owner = test_user(2, Role::Member, 1);
        let other = test_user(3, Role::Member, 1);
        assert!(check_assignee(&me, &me, Some(2)).is_ok());
        assert!(check_assignee(&me, &owner, Some(2)).is_ok());
        assert!(matches!(
            check_assignee(&me, &other, Some(2)),
            Err(Error::Forbidden(_))
        ));
        let mgr = test_user(4, Role::Manager, 1);
        assert!(check_assignee(&mgr, &other, Some(2)).is_ok());
        let far = test_user(5, Role::Member, 2);
        assert!(check_assignee(&mgr, &far, Some(2)).is_err());
    }

    #[test]
    fn a_viewer_closes_nothing_and_a_member_only_their_own() {
        let v = test_user(1, Role::Viewer, 1);
        assert!(check_close(&v, 9, ("u1", 1, 1), Some(1)).is_err());
        let m = test_user(2, Role::Member, 1);
        assert!(check_close(&m, 9, ("u2", 2, 1), None).is_ok());
        assert!(check_close(&m, 9, ("x", 3, 1), Some(2)).is_ok());
        assert!(check_close(&m, 9, ("x", 3, 1), Some(3)).is_err());
    }

    #[test]
    fn a_log_in_the_future_is_refused_and_skew_allowed() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert!(check_logged_at(now + chrono::Duration::seconds(200), now).is_ok());
        assert!(check_logged_at(now + chrono::Duration::seconds(400), now).is_err());
        assert!(check_logged_at(now - chrono::Duration::days(365 * 11), now).is_err());
    }
}
