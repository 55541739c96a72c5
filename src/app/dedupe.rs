//! Finding duplicate customers (`pool dedupe`): the scan over every live customer and
//! the labels its report shows. Merging a found cluster is `app::merge`.
use super::scope;
use crate::domain::matching::{self, Found, Record};
use crate::domain::roles::{Action, User};
use crate::error::{Error, Result};
use crate::store::Backend;

/// What a scan found: the records it scored (the clusters index into them) and the
/// clusters with the model fitted on this database.
pub struct Scan {
    pub records: Vec<Record>,
    pub found: Found,
}

/// A match probability: 0 to 1.
pub fn check_threshold(threshold: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&threshold) {
        return Err(Error::invalid("--threshold", "must be between 0 and 1"));
    }
    Ok(())
}

/// Scores every pair of live customers that share a blocking key and clusters those
/// whose match probability reaches `threshold`.
pub fn scan(store: &mut dyn Backend, me: &User, threshold: f64) -> Result<Scan> {
    scope::require(me, Action::Dedupe)?;
    check_threshold(threshold)?;
    let mut records = store.read()?.all_records()?;
    let found = matching::find(&mut records, threshold);
    Ok(Scan { records, found })
}

/// "name / company" of each customer for the report (its id if it has neither, or if
/// it is gone).
pub fn labels(store: &mut dyn Backend, ids: &[i64]) -> Result<Vec<String>> {
    let mut tx = store.read()?;
    Ok(ids
        .iter()
        .map(|&id| match tx.customer(id) {
            Ok(c) => match (c.name, c.company) {
                (Some(n), Some(co)) => format!("{n} / {co}"),
                (Some(n), None) => n,
                (None, Some(co)) => co,
                (None, None) => format!("#{id}"),
            },
            Err(_) => format!("#{id}"),
        })
        .collect())
}
