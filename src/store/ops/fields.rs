//! Custom fields declared per pool (`pool fields`), and a customer's custom values.
use crate::domain::fields::FieldDef;
use crate::error::Result;

pub trait FieldOps {
    /// A pool's declared fields, in declared order.
    fn fields(&mut self, pool_id: i64) -> Result<Vec<FieldDef>>;
    /// Every pool's declared fields: (pool id, field), by pool then declared order.
    fn all_fields(&mut self) -> Result<Vec<(i64, FieldDef)>>;
    /// Declares a field at the end of the pool's list; false if the name is taken there.
    fn add_field(&mut self, pool_id: i64, def: &FieldDef, now: i64) -> Result<bool>;
    /// Removes a declaration (values stay on the customers); false if there was none.
    fn remove_field(&mut self, pool_id: i64, name: &str) -> Result<bool>;
    /// Replaces a customer's custom values (a JSON object; None: none).
    fn set_custom(&mut self, id: i64, custom: Option<&str>, now: i64) -> Result<()>;
}
