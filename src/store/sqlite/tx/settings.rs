use rusqlite::{params, OptionalExtension};

use super::SqliteTx;
use crate::error::Result;
use crate::store::ops::settings::SettingsOps;

impl SettingsOps for SqliteTx<'_> {
    fn setting(&mut self, key: &str) -> Result<Option<String>> {
        Ok(self
            .tx
            .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    fn set_setting(&mut self, key: &str, value: Option<&str>) -> Result<()> {
        match value {
            Some(v) => self
                .tx
                .prepare_cached(
                    "INSERT INTO settings (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )?
                .execute(params![key, v])?,
            None => self
                .tx
                .prepare_cached("DELETE FROM settings WHERE key = ?1")?
                .execute([key])?,
        };
        Ok(())
    }
}
