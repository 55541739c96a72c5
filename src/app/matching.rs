//! The duplicate model as add and import use it: fitted on this database, kept, and
//! refitted when the database has changed a lot.
use crate::domain::customer::{CustomerFields, MatchKeys};
use crate::domain::linkage::Model;
use crate::domain::matching::{self, Record};
use crate::error::Result;
use crate::store::ops::matching::KeyMatch;
use crate::store::Tx;

/// Customers the import/add model is fitted on (the most recent ones).
const MODEL_SAMPLE: usize = 100_000;

/// The match model for scoring a few candidates (`pool add`, `pool import`): the one
/// fitted last on this database, or a new fit on its most recent customers when the
/// database has grown or shrunk by a quarter since (kept in `settings`).
pub fn model_for(tx: &mut dyn Tx) -> Result<Model> {
    let live = tx.live_count()? as u64;
    // A model stored by a version with other comparison levels is refitted.
    if let Some(m) = tx.saved_model()?.filter(|m| m.is_current()) {
        let fitted_on = m.real_population;
        let slack = (fitted_on / 4).max(matching::MIN_POPULATION as u64 / 4);
        if live.abs_diff(fitted_on) <= slack {
            return Ok(m);
        }
    }
    let sample = tx.recent_records(MODEL_SAMPLE)?;
    let mut m = matching::fit(&sample);
    m.real_population = live;
    m.compact(2_000);
    tx.save_model(&m)?;
    Ok(m)
}

/// Existing customers that a new one with these fields probably duplicates, with the
/// model's probability and reasons: (id, "probability 0.97: …"). Only the indexed
/// neighbours (same phone, e-mail or name) are scored, so it stays instant.
pub fn likely_duplicates(tx: &mut dyn Tx, f: &CustomerFields) -> Result<Vec<(i64, String)>> {
    let model = model_for(tx)?;
    let me = Record::from_fields(0, f, None);
    Ok(neighbours(tx, &f.keys, 50)?
        .iter()
        .filter_map(|r| {
            let e = model.explain(&me, r);
            (e.probability >= matching::WARN_THRESHOLD).then(|| {
                (
                    r.id,
                    format!("probability {:.3}: {}", e.probability, e.reasons()),
                )
            })
        })
        .collect())
}

/// The store's neighbours of these keys, plus the customers the reader's view masks or
/// hides that hold the same whole phone or e-mail (server mode), so that the model
/// compares what SQLite's app compares.
pub(crate) fn neighbours(tx: &mut dyn Tx, keys: &MatchKeys, limit: i64) -> Result<Vec<Record>> {
    let mut found = tx.neighbours(keys, limit)?;
    let phones: Vec<&str> = keys.phone.as_deref().into_iter().collect();
    let emails: Vec<&str> = keys.email.as_deref().into_iter().collect();
    let matches = tx.whole_key_matches(&phones, &emails)?;
    add_key_matches(tx, matches, &mut found)?;
    Ok(found)
}

/// Records for customers found by whole key: their keys filled in where the view gave
/// NULL, records fetched for those not in `found` yet, and for a customer the reader
/// cannot read at all, a record of the matched keys alone.
pub(crate) fn add_key_matches(
    tx: &mut dyn Tx,
    matches: Vec<KeyMatch>,
    found: &mut Vec<Record>,
) -> Result<()> {
    if matches.is_empty() {
        return Ok(());
    }
    let missing: Vec<i64> = matches
        .iter()
        .map(|m| m.0)
        .filter(|id| !found.iter().any(|r| r.id == *id))
        .collect();
    found.extend(tx.match_records(&missing)?);
    for (id, phone, email) in matches {
        let i = match found.iter().position(|r| r.id == id) {
            Some(i) => i,
            None => {
                found.push(Record::from_keys(
                    id, None, None, None, None, None, None, None,
                ));
                found.len() - 1
            }
        };
        let r = &mut found[i];
        if r.phone.is_none() {
            r.phone = phone;
        }
        if r.email.is_none() {
            r.email = email;
        }
    }
    Ok(())
}
