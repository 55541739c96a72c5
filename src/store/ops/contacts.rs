//! A customer's contact people (联系人): read, add, change, remove, erase, and stream
//! with their customers for an export.
use serde::Serialize;

use crate::domain::contact::ContactFields;
use crate::error::Result;
use crate::store::ops::customers::ListFilter;
use crate::store::Customer;

/// One stored contact, unmasked (the caller masks per the reader).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contact {
    pub id: i64,
    pub customer_id: i64,
    pub name: String,
    pub title: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub trait ContactOps {
    /// A customer's contacts, oldest first.
    fn contacts(&mut self, customer_id: i64) -> Result<Vec<Contact>>;
    /// One contact (not found: exit 3).
    fn contact(&mut self, id: i64) -> Result<Contact>;
    /// Adds a contact to a customer; its id.
    fn insert_contact(
        &mut self,
        customer_id: i64,
        f: &ContactFields,
        by: i64,
        now: i64,
    ) -> Result<i64>;
    /// Replaces a contact's fields and keys.
    fn update_contact(&mut self, id: i64, f: &ContactFields, now: i64) -> Result<()>;
    /// Removes a contact for good; false if there was none.
    fn delete_contact(&mut self, id: i64) -> Result<bool>;
    /// Erases every contact of a customer (`pool forget`); how many there were.
    fn forget_contacts(&mut self, customer_id: i64) -> Result<usize>;
    /// Every matching customer in id order with its contacts, one at a time (export).
    fn for_each_customer_with_contacts(
        &mut self,
        f: &ListFilter,
        each: &mut dyn FnMut(Customer, Vec<Contact>) -> Result<()>,
    ) -> Result<()>;
}
