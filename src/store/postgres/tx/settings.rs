use super::PgTx;
use crate::error::Result;
use crate::store::ops::settings::SettingsOps;

impl SettingsOps for PgTx<'_> {
    fn setting(&mut self, key: &str) -> Result<Option<String>> {
        Ok(self
            .opt("SELECT value FROM settings WHERE key = $1", &[&key])?
            .map(|r| r.get(0)))
    }

    fn set_setting(&mut self, key: &str, value: Option<&str>) -> Result<()> {
        match value {
            Some(v) => self.exec(
                "INSERT INTO settings (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&key, &v],
            )?,
            None => self.exec("DELETE FROM settings WHERE key = $1", &[&key])?,
        };
        Ok(())
    }
}
