//! Finding duplicate customers (`pool dedupe`): the scan over every live customer and
//! the labels its report shows. Merging a found cluster is `app::merge`.
use super::scope;
use std::collections::HashMap;

use crate::domain::linkage::Keys;
use crate::domain::matching::{self, Found, Packed, Record};
use crate::domain::roles::{Action, User};
use crate::error::{Error, Result};
use crate::store::Backend;

/// What a scan found: the clusters with the model fitted on this database, and the
/// keys, ids and owners of the clusters' members (the clusters index into them), kept
/// packed: a report's records are made one at a time as it is written.
pub struct Scan {
    members: Packed,
    ids: Vec<i64>,
    owners: Vec<u32>,
    /// Owner logins; 0 is None (in a pool).
    logins: Vec<Option<String>>,
    /// How many live customers were scanned.
    pub customers: usize,
    pub found: Found,
}

impl Scan {
    /// Member `i`'s customer id.
    pub fn id(&self, i: usize) -> i64 {
        self.ids[i]
    }

    /// Member `i`'s owner (None: in a pool).
    pub fn owner(&self, i: usize) -> Option<&str> {
        self.logins[self.owners[i] as usize].as_deref()
    }

    /// Member `i`'s match keys, borrowed.
    pub fn keys(&self, i: usize) -> Keys<'_> {
        self.members.get(i)
    }

    /// Member `i` as the matcher saw it.
    pub fn record(&self, i: usize) -> Record {
        self.members
            .record(i, self.ids[i], self.owner(i).map(String::from))
    }
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
    // The scan's helper threads allocate little but long-lived memory (the value
    // frequencies, a read batch's records): in one heap with the rest, not each in an
    // arena of its own that keeps what it once held (~1.5 MB at 100,000 customers).
    // SAFETY: mallopt only changes the allocator's settings; any value is accepted.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
    // Only the keys are kept while reading (packed), and each owner login once.
    let mut packed = Packed::default();
    let mut ids: Vec<i64> = Vec::new();
    let mut owners: Vec<u32> = Vec::new();
    let mut logins: Vec<Option<String>> = vec![None];
    // The reference population the model is fitted with is made meanwhile.
    let (read, reference) = std::thread::scope(|scope| {
        let reference = scope.spawn(matching::reference_packed);
        let read = read_keys(store, &mut packed, &mut ids, &mut owners, &mut logins);
        let reference = reference
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        (read, reference)
    });
    read?;
    let mut found = matching::find_packed_with(&mut packed, &ids, threshold, reference);
    // The report needs the clusters' members only: renumber them (in record order, so
    // the records can be let go of as the members' are copied out).
    let mut keep: Vec<u32> = found
        .clusters
        .iter()
        .flat_map(|c| {
            let links = c.links.iter().flat_map(|l| [l.a, l.b]);
            c.members.iter().copied().chain(links).map(|i| i as u32)
        })
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let renumber = |i: &mut usize| *i = keep.partition_point(|&k| (k as usize) < *i);
    for c in &mut found.clusters {
        c.members.iter_mut().for_each(renumber);
        for l in &mut c.links {
            renumber(&mut l.a);
            renumber(&mut l.b);
        }
    }
    let member_ids: Vec<i64> = keep.iter().map(|&i| ids[i as usize]).collect();
    let member_owners: Vec<u32> = keep.iter().map(|&i| owners[i as usize]).collect();
    let customers = ids.len();
    drop((ids, owners));
    let members = packed.take(&keep);
    Ok(Scan {
        members,
        ids: member_ids,
        owners: member_owners,
        logins,
        customers,
        found,
    })
}

/// Every live customer's keys into `packed`, its id into `ids` and its owner's login
/// into `owners` (as its number in `logins`, `0` for none).
fn read_keys(
    store: &mut dyn Backend,
    packed: &mut Packed,
    ids: &mut Vec<i64>,
    owners: &mut Vec<u32>,
    logins: &mut Vec<Option<String>>,
) -> Result<()> {
    let mut login_at: HashMap<String, u32> = HashMap::new();
    store.read()?.each_keys(&mut |id, keys, owner| {
        packed.push_keys(keys);
        ids.push(id);
        owners.push(match owner {
            None => 0,
            Some(login) => match login_at.get(login) {
                Some(at) => *at,
                None => {
                    logins.push(Some(login.to_string()));
                    let at = (logins.len() - 1) as u32;
                    login_at.insert(login.to_string(), at);
                    at
                }
            },
        });
    })
}

/// "name / company" of each customer for the report (its id if it has neither, or if
/// it is gone).
pub fn labels(store: &mut dyn Backend, ids: &[i64]) -> Result<Vec<String>> {
    let found = store.read()?.names_and_companies(ids)?;
    Ok(ids
        .iter()
        .zip(found)
        .map(|(id, f)| match f {
            Some((Some(n), Some(co))) => format!("{n} / {co}"),
            Some((Some(n), None)) => n,
            Some((None, Some(co))) => co,
            Some((None, None)) | None => format!("#{id}"),
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
