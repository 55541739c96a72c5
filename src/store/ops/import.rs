//! Bulk loading: the import's new customers in batches, its key map's source, and the
//! demo data. Built for a million rows in one transaction: a batch is one call, and the
//! match keys are lent to the caller, never copied per row.
use crate::domain::customer::CustomerFields;
use crate::error::Result;
use crate::store::Placement;

pub use crate::demo::DemoSummary;

/// A new customer of a bulk load, with the id it gets (ids are given by the loader, so
/// a row can be found again before its batch is written).
#[derive(Debug, Clone)]
pub struct NewLead {
    pub id: i64,
    pub fields: CustomerFields,
    pub stage: &'static str,
    /// The custom fields, as a JSON object.
    pub custom: Option<String>,
}

/// The indexes a bulk load set aside, to be built again at its end (what they are is
/// the backend's business).
#[derive(Debug, Default)]
pub struct Suspended(pub(crate) Vec<String>);

pub trait ImportOps {
    /// More memory for this connection's page cache while it loads (a hint).
    fn bulk_cache(&mut self, mib: i64) -> Result<()>;
    /// The largest customer id, deleted and merged ones included (0: none).
    fn max_customer_id(&mut self) -> Result<i64>;
    /// Adds new custom field names to the known ones.
    fn remember_custom_fields(&mut self, names: &[String]) -> Result<()>;
    /// Calls `each` with every live customer's id and match keys (phone, e-mail, name,
    /// company).
    fn for_each_match_keys(&mut self, each: &mut dyn FnMut(i64, [Option<&str>; 4])) -> Result<()>;
    /// Sets the customer indexes aside for a bulk load (they are rebuilt by
    /// [`ImportOps::restore_indexes`], or come back untouched on rollback).
    fn suspend_indexes(&mut self) -> Result<Suspended>;
    fn restore_indexes(&mut self, suspended: &Suspended) -> Result<()>;
    /// Writes a batch of new customers with their ids and tags.
    fn insert_leads(
        &mut self,
        place: &Placement,
        created_by: Option<i64>,
        now: i64,
        rows: &[NewLead],
    ) -> Result<()>;
    /// Replaces a customer's fields (filled in from a duplicate row) and, when given,
    /// its custom fields.
    fn fill_customer(
        &mut self,
        id: i64,
        f: &CustomerFields,
        stage: &str,
        custom: Option<&str>,
        now: i64,
    ) -> Result<()>;
    /// Loads `n` generated demo customers with their people, history and plans;
    /// `progress` is called every 10,000 customers.
    fn load_demo(
        &mut self,
        n: u64,
        seed: u64,
        now: i64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<DemoSummary>;
    /// Fresh planner statistics after a bulk load.
    fn refresh_statistics(&mut self) -> Result<()>;
    /// Whether a large file (10,000 rows or more) is matched against the key map even
    /// when the table is bigger than the file: true where a duplicate lookup per row is a
    /// round trip to a server (reading every key once is then far cheaper).
    fn key_map_for_large_files(&self) -> bool {
        false
    }
    /// Ids for `n` new customers of a bulk load, reserved for this transaction so that
    /// nothing another client commits meanwhile takes one (a server's identity sequence;
    /// gaps allowed). `None`: this transaction shuts out every other writer, so the loader
    /// numbers its rows after [`ImportOps::max_customer_id`].
    fn reserve_customer_ids(&mut self, _n: usize) -> Result<Option<Vec<i64>>> {
        Ok(None)
    }
    /// Whether an owner import (`--owner`) may write its new customers in batches too:
    /// true where the backend writes their owner history itself.
    fn bulk_owner_imports(&self) -> bool {
        false
    }
}
