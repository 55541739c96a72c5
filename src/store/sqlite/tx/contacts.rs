use super::SqliteTx;
use crate::domain::contact::ContactFields;
use crate::error::Result;
use crate::store::ops::contacts::{Contact, ContactOps};
use crate::store::ops::customers::ListFilter;
use crate::store::sqlite::contacts;
use crate::store::Customer;

impl ContactOps for SqliteTx<'_> {
    fn contacts(&mut self, customer_id: i64) -> Result<Vec<Contact>> {
        contacts::of_customer(&self.tx, customer_id)
    }

    fn contact(&mut self, id: i64) -> Result<Contact> {
        contacts::get(&self.tx, id)
    }

    fn insert_contact(
        &mut self,
        customer_id: i64,
        f: &ContactFields,
        by: i64,
        now: i64,
    ) -> Result<i64> {
        contacts::insert(&self.tx, customer_id, f, by, now)
    }

    fn update_contact(&mut self, id: i64, f: &ContactFields, now: i64) -> Result<()> {
        contacts::update(&self.tx, id, f, now)
    }

    fn delete_contact(&mut self, id: i64) -> Result<bool> {
        contacts::delete(&self.tx, id)
    }

    fn forget_contacts(&mut self, customer_id: i64) -> Result<usize> {
        contacts::forget(&self.tx, customer_id)
    }

    fn for_each_customer_with_contacts(
        &mut self,
        f: &ListFilter,
        each: &mut dyn FnMut(Customer, Vec<Contact>) -> Result<()>,
    ) -> Result<()> {
        contacts::for_each_with_contacts(&self.tx, f, each)
    }
}
