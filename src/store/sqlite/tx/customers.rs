use super::SqliteTx;
use crate::domain::customer::CustomerFields;
use crate::error::Result;
use crate::store::ops::customers::{Event, ForgetCounts};
use crate::store::ops::CustomerOps;
use crate::store::sqlite::{customers, ownership, teams, work};
use crate::store::{Customer, ListFilter, Placement};

impl CustomerOps for SqliteTx<'_> {
    fn customer(&mut self, id: i64) -> Result<Customer> {
        customers::get(&self.tx, id)
    }

    fn name_and_company(&mut self, id: i64) -> Result<Option<(Option<String>, Option<String>)>> {
        customers::name_and_company(&self.tx, id)
    }

    fn names_and_companies(
        &mut self,
        ids: &[i64],
    ) -> Result<Vec<Option<(Option<String>, Option<String>)>>> {
        customers::names_and_companies(&self.tx, ids)
    }

    fn contact_keys(&mut self, id: i64) -> Result<(Option<String>, Option<String>)> {
        customers::contact_keys(&self.tx, id)
    }

    fn find_customer(&mut self, id: i64) -> Result<Option<Customer>> {
        customers::find(&self.tx, id)
    }

    fn insert_customer(
        &mut self,
        f: &CustomerFields,
        stage: &str,
        custom: Option<&str>,
        place: &Placement,
        created_by: Option<i64>,
        now: i64,
    ) -> Result<i64> {
        customers::insert(&self.tx, f, stage, custom, place, created_by, now)
    }

    fn update_customer(
        &mut self,
        id: i64,
        f: &CustomerFields,
        stage: &str,
        custom: Option<Option<&str>>,
        now: i64,
    ) -> Result<()> {
        customers::update_fields(&self.tx, id, f, stage, now)?;
        match custom {
            Some(custom) => crate::store::sqlite::fields::set_custom(&self.tx, id, custom, now),
            None => Ok(()),
        }
    }

    fn soft_delete_customer(&mut self, id: i64, now: i64) -> Result<bool> {
        customers::soft_delete(&self.tx, id, now)
    }

    fn forget_customer(&mut self, id: i64, now: i64) -> Result<ForgetCounts> {
        customers::forget(&self.tx, id, now)
    }

    fn customer_has_deal(&mut self, id: i64) -> Result<bool> {
        ownership::has_deal(&self.tx, id)
    }

    fn customer_timeline(&mut self, id: i64) -> Result<Vec<Event>> {
        work::timeline(&self.tx, id)
    }

    fn list_customers(&mut self, f: &ListFilter) -> Result<Vec<Customer>> {
        customers::list(&self.tx, f)
    }

    fn count_customers(&mut self, f: &ListFilter) -> Result<i64> {
        customers::count(&self.tx, f)
    }

    fn for_each_customer(
        &mut self,
        f: &ListFilter,
        each: &mut dyn FnMut(Customer) -> Result<()>,
    ) -> Result<()> {
        customers::for_each(&self.tx, f, each)
    }

    fn custom_field_names(&mut self) -> Result<Vec<String>> {
        crate::store::sqlite::bulk::known_custom_fields(&self.tx)
    }

    fn team_id_by_name(&mut self, name: &str) -> Result<i64> {
        teams::get(&self.tx, name)
    }
}
