use super::SqliteTx;
use crate::error::Result;
use crate::store::ops::PeopleOps;
use crate::store::sqlite::users;
use crate::store::User;

impl PeopleOps for SqliteTx<'_> {
    fn find_user(&mut self, login: &str) -> Result<Option<User>> {
        users::find(&self.tx, login)
    }

    fn user(&mut self, login: &str) -> Result<User> {
        users::get(&self.tx, login)
    }
}
