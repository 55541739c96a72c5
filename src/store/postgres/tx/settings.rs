use super::PgTx;
use crate::error::{Error, Result};
use crate::store::ops::settings::SettingsOps;

/// `pool notify`'s one-run-at-a-time lease: on a server it lives in a private row that
/// the managers who run digests may take (settings are written by admins only), read
/// under a row lock so racing runs queue.
const NOTIFY_LEASE: &str = "notify_lease";

impl SettingsOps for PgTx<'_> {
    fn setting(&mut self, key: &str) -> Result<Option<String>> {
        if key == NOTIFY_LEASE {
            let rows = self.write_rows("SELECT pool_private.notify_lease_get()", &[])?;
            return Ok(rows
                .first()
                .and_then(|r| r.get::<_, Option<i64>>(0))
                .map(|v| v.to_string()));
        }
        Ok(self
            .opt("SELECT value FROM settings WHERE key = $1", &[&key])?
            .map(|r| r.get(0)))
    }

    fn set_setting(&mut self, key: &str, value: Option<&str>) -> Result<()> {
        if key == NOTIFY_LEASE {
            let until = value
                .map(|v| {
                    v.parse::<i64>()
                        .map_err(|_| Error::invalid("notify_lease", "not a time"))
                })
                .transpose()?;
            self.write_rows("SELECT pool_private.notify_lease_set($1)", &[&until])?;
            return Ok(());
        }
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
