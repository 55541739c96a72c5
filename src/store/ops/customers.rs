//! Customers: read, list, add, change, delete, erase.
use crate::domain::customer::CustomerFields;
use crate::error::Result;
use crate::store::Customer;
use serde::Serialize;

pub use crate::store::ops::work::Event;

/// Where a new customer goes: a pool, or straight to an owner.
pub struct Placement {
    pub pool_id: i64,
    pub owner_id: Option<i64>,
}

/// The order of a list (`pool list --sort`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    #[default]
    Id,
    Name,
    Company,
    City,
    Created,
    Updated,
    LastContact,
    Stage,
}

/// The filters of `pool list` (and `pool export`).
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Some(None): in any pool; Some(Some(id)): in that pool.
    pub in_pool: Option<Option<i64>>,
    pub owner_id: Option<i64>,
    pub team_id: Option<i64>,
    pub stage: Option<String>,
    pub tag: Option<String>,
    pub city: Option<String>,
    pub source: Option<String>,
    pub level: Option<String>,
    pub industry: Option<String>,
    /// `--where` conditions on custom fields (a scan of the JSON column).
    pub conditions: Vec<crate::domain::fields::Condition>,
    pub search: Option<String>,
    /// Last contact (or creation, if never contacted) before this time.
    pub contact_before: Option<i64>,
    /// Pooled customers only from pools this team may see (None = every pool).
    pub visible_to_team: Option<i64>,
    /// Where `search` may match phone and e-mail by substring: only where the actor sees
    /// them unmasked. Elsewhere only a whole phone number or e-mail address matches, so a
    /// search cannot spell out a masked contact digit by digit.
    pub contact_scope: crate::domain::roles::ContactScope,
    pub sort: Sort,
    pub desc: bool,
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ForgetCounts {
    pub interactions: usize,
    pub followups: usize,
    pub owner_events: usize,
    pub merges: usize,
}

pub trait CustomerOps {
    /// A live customer (not found: exit 3; merged: says into which).
    fn customer(&mut self, id: i64) -> Result<Customer>;
    /// A live customer's name and company (None when it is not live): a report's label,
    /// read without the rest of the customer. The default reads the whole customer.
    fn name_and_company(&mut self, id: i64) -> Result<Option<(Option<String>, Option<String>)>> {
        Ok(self.customer(id).ok().map(|c| (c.name, c.company)))
    }
    /// `name_and_company` of each of `ids`, in order.
    #[allow(clippy::type_complexity)]
    fn names_and_companies(
        &mut self,
        ids: &[i64],
    ) -> Result<Vec<Option<(Option<String>, Option<String>)>>> {
        ids.iter().map(|&id| self.name_and_company(id)).collect()
    }
    /// A customer's normalised phone and e-mail keys.
    fn contact_keys(&mut self, id: i64) -> Result<(Option<String>, Option<String>)>;
    /// A customer, deleted, merged or erased ones too (None: no such id).
    fn find_customer(&mut self, id: i64) -> Result<Option<Customer>>;
    /// Adds a customer (and its tags); its id.
    fn insert_customer(
        &mut self,
        f: &CustomerFields,
        stage: &str,
        custom: Option<&str>,
        place: &Placement,
        created_by: Option<i64>,
        now: i64,
    ) -> Result<i64>;
    /// Replaces the editable fields (values, keys and tags) and the stage, and with
    /// `custom: Some(values)` the custom values too, in the same write (on a server one
    /// UPDATE, so one audit row).
    fn update_customer(
        &mut self,
        id: i64,
        f: &CustomerFields,
        stage: &str,
        custom: Option<Option<&str>>,
        now: i64,
    ) -> Result<()>;
    /// Makes a live customer a tombstone and cancels its open follow-ups; false if it
    /// was not live.
    fn soft_delete_customer(&mut self, id: i64, now: i64) -> Result<bool>;
    /// Erases a customer's personal data everywhere it is kept; what was touched.
    fn forget_customer(&mut self, id: i64, now: i64) -> Result<ForgetCounts>;
    /// Whether a customer has a deal that is not void.
    fn customer_has_deal(&mut self, id: i64) -> Result<bool>;
    /// Everything that happened to a customer, newest first.
    fn customer_timeline(&mut self, id: i64) -> Result<Vec<Event>>;
    /// Customers matching a filter, sorted and limited as it says.
    fn list_customers(&mut self, f: &ListFilter) -> Result<Vec<Customer>>;
    /// How many customers match a filter.
    fn count_customers(&mut self, f: &ListFilter) -> Result<i64>;
    /// Every matching customer in id order, one at a time (not collected).
    fn for_each_customer(
        &mut self,
        f: &ListFilter,
        each: &mut dyn FnMut(Customer) -> Result<()>,
    ) -> Result<()>;
    /// The custom field names ever imported, in first-seen order.
    fn custom_field_names(&mut self) -> Result<Vec<String>>;
    /// A team's id by name, for a filter (not found: exit 3).
    fn team_id_by_name(&mut self, name: &str) -> Result<i64>;
}
