//! Contact people on the server: read through `contacts_v` (masked where the reader does
//! not see the customer's contacts), written with plain DML that the server's guard
//! re-checks and audits (migration 6).
use std::collections::HashMap;

use postgres::Row;

use super::PgTx;
use crate::domain::contact::ContactFields;
use crate::error::{Error, Result};
use crate::store::ops::contacts::{Contact, ContactOps};
use crate::store::ops::customers::ListFilter;
use crate::store::ops::CustomerOps;
use crate::store::Customer;

const SELECT: &str =
    "SELECT id, customer_id, name, title, phone, email, created_at, updated_at FROM contacts_v";

fn from_row(r: &Row) -> Contact {
    Contact {
        id: r.get(0),
        customer_id: r.get(1),
        name: r.get(2),
        title: r.get(3),
        phone: r.get(4),
        email: r.get(5),
        created_at: r.get(6),
        updated_at: r.get(7),
    }
}

impl ContactOps for PgTx<'_> {
    fn contacts(&mut self, customer_id: i64) -> Result<Vec<Contact>> {
        let rows = self.rows(
            &format!("{SELECT} WHERE customer_id = $1 ORDER BY id"),
            &[&customer_id],
        )?;
        Ok(rows.iter().map(from_row).collect())
    }

    fn contact(&mut self, id: i64) -> Result<Contact> {
        self.opt(&format!("{SELECT} WHERE id = $1"), &[&id])?
            .map(|r| from_row(&r))
            .ok_or_else(|| Error::not_found("contact", id))
    }

    fn insert_contact(
        &mut self,
        customer_id: i64,
        f: &ContactFields,
        by: i64,
        now: i64,
    ) -> Result<i64> {
        // The server stamps created_by/created_at for non-admins.
        let rows = self.write_rows(
            "INSERT INTO contacts (customer_id, name, title, phone, email, phone_key, email_key,
                created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
            &[
                &customer_id,
                &f.name,
                &f.title,
                &f.phone,
                &f.email,
                &f.phone_key,
                &f.email_key,
                &by,
                &now,
            ],
        )?;
        rows.first()
            .map(|r| r.get(0))
            .ok_or_else(|| Error::Other("the server returned no contact id".into()))
    }

    fn update_contact(&mut self, id: i64, f: &ContactFields, now: i64) -> Result<()> {
        self.exec(
            "UPDATE contacts SET name = $2, title = $3, phone = $4, email = $5, phone_key = $6,
                email_key = $7, updated_at = $8
             WHERE id = $1",
            &[
                &id,
                &f.name,
                &f.title,
                &f.phone,
                &f.email,
                &f.phone_key,
                &f.email_key,
                &now,
            ],
        )?;
        Ok(())
    }

    fn delete_contact(&mut self, id: i64) -> Result<bool> {
        Ok(self.exec("DELETE FROM contacts WHERE id = $1", &[&id])? == 1)
    }

    /// Counts them only: the server's `forget_customer` (migration 11), run next in the
    /// same transaction, deletes them and puts the count in its audit row.
    fn forget_contacts(&mut self, customer_id: i64) -> Result<usize> {
        let n: i64 = self
            .one(
                "SELECT count(*) FROM contacts WHERE customer_id = $1",
                &[&customer_id],
            )?
            .get(0);
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// One connection streams one query at a time, so the contacts the reader may see are
    /// read first (memory grows with contacts, not customers), then the customers streamed.
    fn for_each_customer_with_contacts(
        &mut self,
        f: &ListFilter,
        each: &mut dyn FnMut(Customer, Vec<Contact>) -> Result<()>,
    ) -> Result<()> {
        let mut by_customer: HashMap<i64, Vec<Contact>> = HashMap::new();
        for r in self.rows(&format!("{SELECT} ORDER BY customer_id, id"), &[])? {
            let k = from_row(&r);
            by_customer.entry(k.customer_id).or_default().push(k);
        }
        self.for_each_customer(f, &mut |c| {
            let mine = by_customer.remove(&c.id).unwrap_or_default();
            each(c, mine)
        })
    }
}
