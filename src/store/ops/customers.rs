//! Customers: read, add, change, delete.
use crate::error::Result;
use crate::store::Customer;

pub trait CustomerOps {
    /// A live customer (not found: exit 3; merged: says into which).
    fn customer(&mut self, id: i64) -> Result<Customer>;
    /// A customer's normalised phone and e-mail keys.
    fn contact_keys(&mut self, id: i64) -> Result<(Option<String>, Option<String>)>;
}
