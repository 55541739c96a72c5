//! Export: the customers `me` may list, handed one at a time to a sink, after the audit
//! row that records the export has committed — so no exported byte leaves unrecorded,
//! even when the output is cut off.
use serde_json::json;

use super::customer::{resolve, Query};
use super::scope;
use crate::domain::customer::Customer;
use crate::domain::roles::{Action, User};
use crate::error::Result;
use crate::store::ops::audit::Record;
use crate::store::ops::contacts::Contact;
use crate::store::Backend;

/// Where exported customers go (a CSV, JSON or JSON-lines writer).
pub trait Sink {
    /// Called once, after the audit row has committed and before the first customer.
    fn begin(&mut self) -> Result<()>;
    /// One customer with its contact people (unmasked: the sink masks per its view).
    fn customer(&mut self, c: Customer, contacts: Vec<Contact>) -> Result<()>;
}

/// An export as asked for.
#[derive(Debug, Clone, Default)]
pub struct Export {
    pub query: Query,
    /// Contacts unmasked where `me` sees them (managers and admins).
    pub unmasked: bool,
    /// For the audit row: the format's name and the file written, if not stdout.
    pub format: Option<String>,
    pub file: Option<String>,
}

/// Exports the matching customers to the sink that `open` makes from the custom field
/// names (the extra columns); returns the sink and how many customers it got.
pub fn export<S: Sink>(
    store: &mut dyn Backend,
    me: &User,
    req: &Export,
    now: i64,
    open: impl FnOnce(&[String]) -> Result<S>,
) -> Result<(S, u64)> {
    scope::require(me, Action::Export)?;
    if req.unmasked {
        scope::require(me, Action::ExportUnmasked)?;
    }
    let (f, keys) = {
        let mut tx = store.read()?;
        let f = resolve(&mut *tx, me, &req.query, now)?;
        // Every declared field (in declared order), then every custom field name ever
        // imported: known without a first pass.
        let mut keys: Vec<String> = Vec::new();
        for (_, d) in tx.all_fields()? {
            if !keys.contains(&d.name) {
                keys.push(d.name);
            }
        }
        for k in tx.custom_field_names()? {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        (f, keys)
    };
    let mut sink = open(&keys)?;
    // `rows` is the count when the export starts.
    let mut tx = store.write()?;
    let rows = tx.count_customers(&f)?;
    tx.audit(Record {
        at: now,
        actor: &me.login,
        action: "export",
        entity: "customers",
        entity_id: None,
        before: None,
        after: Some(json!({
            "rows": rows,
            "unmasked": req.unmasked,
            "format": req.format,
            "filter": req.query.given,
            "file": req.file,
        })),
    })?;
    tx.commit()?;
    sink.begin()?;
    let mut n: u64 = 0;
    store
        .read()?
        .for_each_customer_with_contacts(&f, &mut |c, contacts| {
            n += 1;
            sink.customer(c, contacts)
        })?;
    Ok((sink, n))
}
