//! A customer's contact people (联系人): add, list, edit, remove. Who may change them is
//! who may edit the customer ([`scope::customer`]); who sees their phone and e-mail
//! unmasked is who sees the customer's own (`customer_rules::sees`), and such a read of
//! someone else's customer is audit-logged before it is returned, as `show` does.
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::customer::log_view;
use super::pool::audit_customer;
use super::{audit_value, scope};
use crate::domain::contact::{apply_edit, validate, ContactFields, ContactInput};
use crate::domain::customer::Customer;
use crate::domain::customer_rules as decide;
use crate::domain::mask::{mask_email, mask_in_text, mask_phone};
use crate::domain::roles::{Action, User};
use crate::error::{Error, Result};
use crate::store::ops::contacts::Contact;
use crate::store::{Backend, Tx};

/// A contact as one reader sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ContactView {
    pub id: i64,
    pub name: String,
    pub title: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// A contact's phone and e-mail masked unless `full` (the reader sees the customer's).
pub fn view(c: &Contact, full: bool) -> ContactView {
    let shown = |v: &Option<String>, mask: fn(&str) -> String| {
        if full {
            v.clone()
        } else {
            v.as_deref().map(mask)
        }
    };
    // A phone or e-mail typed into the name or title is masked like the rest.
    let text = |s: &str| {
        if full {
            s.to_string()
        } else {
            mask_in_text(s).into_owned()
        }
    };
    ContactView {
        id: c.id,
        name: text(&c.name),
        title: c.title.as_deref().map(text),
        phone: shown(&c.phone, mask_phone),
        email: shown(&c.email, mask_email),
    }
}

/// Whether any contact holds a phone or e-mail (what an unmasked read reveals).
fn personal(contacts: &[Contact]) -> bool {
    contacts
        .iter()
        .any(|c| c.phone.is_some() || c.email.is_some())
}

/// One customer's contacts as `me` sees them.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub customer: i64,
    /// Whether the phones and e-mails are shown unmasked.
    pub unmasked: bool,
    pub contacts: Vec<ContactView>,
}

/// A customer's contacts; an unmasked read of someone else's customer is logged first.
pub fn list(store: &mut dyn Backend, me: &User, customer: i64, now: i64) -> Result<Listed> {
    scope::require(me, Action::ReadCustomers)?;
    let (c, contacts) = {
        let mut tx = store.read()?;
        let c = tx.customer(customer)?;
        scope::readable(&mut *tx, me, &c)?;
        let contacts = tx.contacts(c.id)?;
        (c, contacts)
    };
    let full = decide::sees(me, &c);
    if full && c.owner_id != Some(me.id) && personal(&contacts) {
        log_view(store, me, now, Some(c.id), contacts.len(), None)?;
    }
    Ok(Listed {
        customer: c.id,
        unmasked: full,
        contacts: contacts.iter().map(|k| view(k, full)).collect(),
    })
}

/// The contacts `pool show` prints beside a customer it has already read (and whose
/// unmasked read `show` has logged when the customer's own contacts revealed anything).
pub fn for_show(
    store: &mut dyn Backend,
    me: &User,
    c: &Customer,
    now: i64,
) -> Result<Vec<ContactView>> {
    let contacts = store.read()?.contacts(c.id)?;
    let full = decide::sees(me, c);
    if full && c.owner_id != Some(me.id) && !decide::reveals(c, me) && personal(&contacts) {
        log_view(store, me, now, Some(c.id), contacts.len(), None)?;
    }
    Ok(contacts.iter().map(|k| view(k, full)).collect())
}

/// A contact as the audit log keeps it: phone and e-mail masked (`audit_value`), so
/// the append-only log holds nothing `pool forget` must erase beyond what the
/// customer's own rows hold.
fn audited(id: i64, f: &ContactFields) -> Value {
    json!({
        "contact": id,
        "name": f.name,
        "title": f.title,
        "phone": audit_value("phone", &f.phone),
        "email": audit_value("email", &f.email),
    })
}

fn stored(c: &Contact) -> ContactFields {
    ContactFields {
        name: c.name.clone(),
        title: c.title.clone(),
        phone: c.phone.clone(),
        email: c.email.clone(),
        ..Default::default()
    }
}

/// The contact `id` of customer `customer`, which `me` may edit.
fn own_contact(tx: &mut dyn Tx, me: &User, customer: i64, id: i64) -> Result<Contact> {
    let c = scope::customer(tx, me, customer)?;
    let k = tx.contact(id)?;
    if k.customer_id != c.id {
        return Err(Error::not_found(
            "contact",
            format!("{id} of customer {customer} (see pool contact list {customer})"),
        ));
    }
    Ok(k)
}

/// Adds a contact to a customer `me` may edit; its id.
pub fn add(
    store: &mut dyn Backend,
    me: &User,
    customer: i64,
    input: &ContactInput,
    now: i64,
) -> Result<i64> {
    scope::require(me, Action::EditCustomer)?;
    let f = validate(input)?;
    let mut tx = store.write()?;
    let c = scope::customer(&mut *tx, me, customer)?;
    let id = tx.insert_contact(c.id, &f, me.id, now)?;
    audit_customer(
        &mut *tx,
        me,
        "contact_add",
        c.id,
        Value::Null,
        audited(id, &f),
        now,
    )?;
    tx.commit()?;
    Ok(id)
}

/// What an edit changed (field names), empty if nothing did.
pub fn edit(
    store: &mut dyn Backend,
    me: &User,
    customer: i64,
    id: i64,
    given: &ContactInput,
    clear: &[String],
    now: i64,
) -> Result<Vec<String>> {
    scope::require(me, Action::EditCustomer)?;
    let mut tx = store.write()?;
    let k = own_contact(&mut *tx, me, customer, id)?;
    let old = stored(&k);
    let new = validate(&apply_edit(&old, given, clear)?)?;
    let mut before = Map::new();
    let mut after = Map::new();
    before.insert("contact".into(), json!(id));
    after.insert("contact".into(), json!(id));
    let mut changed = Vec::new();
    let pairs = [
        ("name", Some(old.name.clone()), Some(new.name.clone())),
        ("title", old.title.clone(), new.title.clone()),
        ("phone", old.phone.clone(), new.phone.clone()),
        ("email", old.email.clone(), new.email.clone()),
    ];
    for (field, o, n) in pairs {
        if o != n {
            before.insert(field.into(), audit_value(field, &o));
            after.insert(field.into(), audit_value(field, &n));
            changed.push(field.to_string());
        }
    }
    if changed.is_empty() {
        return Ok(changed);
    }
    tx.update_contact(id, &new, now)?;
    audit_customer(
        &mut *tx,
        me,
        "contact_edit",
        customer,
        Value::Object(before),
        Value::Object(after),
        now,
    )?;
    tx.commit()?;
    Ok(changed)
}

/// Removes a contact for good (the audit row keeps it masked).
pub fn remove(store: &mut dyn Backend, me: &User, customer: i64, id: i64, now: i64) -> Result<()> {
    scope::require(me, Action::EditCustomer)?;
    let mut tx = store.write()?;
    let k = own_contact(&mut *tx, me, customer, id)?;
    if !tx.delete_contact(k.id)? {
        return Err(Error::not_found("contact", id));
    }
    audit_customer(
        &mut *tx,
        me,
        "contact_remove",
        customer,
        audited(id, &stored(&k)),
        Value::Null,
        now,
    )?;
    tx.commit()?;
    Ok(())
}
