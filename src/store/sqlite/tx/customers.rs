use super::SqliteTx;
use crate::error::Result;
use crate::store::ops::CustomerOps;
use crate::store::sqlite::customers;
use crate::store::Customer;

impl CustomerOps for SqliteTx<'_> {
    fn customer(&mut self, id: i64) -> Result<Customer> {
        customers::get(&self.tx, id)
    }

    fn contact_keys(&mut self, id: i64) -> Result<(Option<String>, Option<String>)> {
        customers::contact_keys(&self.tx, id)
    }
}
