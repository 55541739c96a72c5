//! Contact people: insert, read, update, delete, erase, and the merge-join that streams
//! them beside their customers for an export.
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::domain::contact::ContactFields;
use crate::error::{Error, Result};
use crate::store::ops::contacts::Contact;
use crate::store::ops::customers::ListFilter;
use crate::store::Customer;

const SELECT: &str =
    "SELECT id, customer_id, name, title, phone, email, created_at, updated_at FROM contacts";

fn from_row(r: &Row) -> rusqlite::Result<Contact> {
    Ok(Contact {
        id: r.get(0)?,
        customer_id: r.get(1)?,
        name: r.get(2)?,
        title: r.get(3)?,
        phone: r.get(4)?,
        email: r.get(5)?,
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
    })
}

pub fn of_customer(conn: &Connection, customer_id: i64) -> Result<Vec<Contact>> {
    let mut s = conn.prepare_cached(&format!("{SELECT} WHERE customer_id = ?1 ORDER BY id"))?;
    let rows = s.query_map([customer_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn get(conn: &Connection, id: i64) -> Result<Contact> {
    conn.prepare_cached(&format!("{SELECT} WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?
        .ok_or_else(|| Error::not_found("contact", id))
}

pub fn insert(
    conn: &Connection,
    customer_id: i64,
    f: &ContactFields,
    by: i64,
    now: i64,
) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO contacts (customer_id, name, title, phone, email, phone_key, email_key,
            created_by, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
    )?
    .execute(params![
        customer_id,
        f.name,
        f.title,
        f.phone,
        f.email,
        f.phone_key,
        f.email_key,
        by,
        now
    ])?;
    Ok(conn.last_insert_rowid())
}

pub fn update(conn: &Connection, id: i64, f: &ContactFields, now: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE contacts SET name = ?2, title = ?3, phone = ?4, email = ?5, phone_key = ?6,
            email_key = ?7, updated_at = ?8
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        f.name,
        f.title,
        f.phone,
        f.email,
        f.phone_key,
        f.email_key,
        now
    ])?;
    Ok(())
}

pub fn delete(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("DELETE FROM contacts WHERE id = ?1")?
        .execute([id])?
        > 0)
}

/// Erasure deletes the rows: every column of a contact is personal data. With
/// `secure_delete` on the bytes are zeroed in the file.
pub fn forget(conn: &Connection, customer_id: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached("DELETE FROM contacts WHERE customer_id = ?1")?
        .execute([customer_id])?)
}

/// Customers in id order, each with its contacts: one cursor over customers and one over
/// contacts by customer (the `contacts_customer` index), advanced together, so memory
/// stays flat however many there are.
pub fn for_each_with_contacts(
    conn: &Connection,
    f: &ListFilter,
    each: &mut dyn FnMut(Customer, Vec<Contact>) -> Result<()>,
) -> Result<()> {
    let mut s = conn.prepare(&format!("{SELECT} ORDER BY customer_id, id"))?;
    let mut rows = s.query([])?;
    let next = |rows: &mut rusqlite::Rows| -> Result<Option<Contact>> {
        Ok(match rows.next()? {
            Some(r) => Some(from_row(r)?),
            None => None,
        })
    };
    let mut pending = next(&mut rows)?;
    super::customers::for_each(conn, f, |c| {
        let mut mine = Vec::new();
        while let Some(k) = pending.take() {
            if k.customer_id > c.id {
                pending = Some(k);
                break;
            }
            if k.customer_id == c.id {
                mine.push(k);
            }
            pending = next(&mut rows)?;
        }
        each(c, mine)
    })
}
