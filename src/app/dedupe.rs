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

/// One member of a cluster as `--interactive` shows it, so a person can decide: contacts
/// masked per the viewer exactly as `pool show` masks them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Card {
    pub id: i64,
    pub name: Option<String>,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub city: Option<String>,
    pub address: Option<String>,
    pub owner: Option<String>,
}

/// The cards of a cluster's customers. Customers `me` may not read are left out; an
/// unmasked view of someone else's contacts is audited (`view_unmasked`) before the
/// cards are returned.
pub fn cards(store: &mut dyn Backend, me: &User, ids: &[i64], now: i64) -> Result<Vec<Card>> {
    use crate::domain::customer_rules::{reveals, sees};
    use crate::domain::mask::{mask_address, mask_email, mask_phone};
    scope::require(me, Action::Dedupe)?;
    let mut shown = Vec::new();
    let mut revealed = 0;
    {
        let mut tx = store.read()?;
        for &id in ids {
            let Ok(c) = tx.customer(id) else { continue };
            if scope::readable(&mut *tx, me, &c).is_err() {
                continue;
            }
            let open = sees(me, &c);
            revealed += usize::from(reveals(&c, me));
            shown.push(Card {
                id,
                phone: if open {
                    c.phone.clone()
                } else {
                    c.phone.as_deref().map(mask_phone)
                },
                email: if open {
                    c.email.clone()
                } else {
                    c.email.as_deref().map(mask_email)
                },
                address: if open {
                    c.address.clone()
                } else {
                    c.address.as_deref().map(mask_address)
                },
                name: c.name,
                company: c.company,
                city: c.city,
                owner: c.owner,
            });
        }
    }
    if revealed > 0 {
        super::customer::log_view(
            store,
            me,
            now,
            None,
            revealed,
            Some(serde_json::json!({"dedupe": ids})),
        )?;
    }
    Ok(shown)
}
