//! Users and teams.
use crate::error::Result;
use crate::store::User;

pub trait PeopleOps {
    /// A user by login, if there is one.
    fn find_user(&mut self, login: &str) -> Result<Option<User>>;
    /// A user by login (not found: exit 3).
    fn user(&mut self, login: &str) -> Result<User>;
}
