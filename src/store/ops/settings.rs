//! Settings: small named values of the whole database (the time zone, per team too).
use crate::error::Result;

pub trait SettingsOps {
    /// A setting's value, if set.
    fn setting(&mut self, key: &str) -> Result<Option<String>>;
    /// Sets a setting (None: removes it).
    fn set_setting(&mut self, key: &str, value: Option<&str>) -> Result<()>;
}
