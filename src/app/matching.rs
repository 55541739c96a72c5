//! The duplicate model as add and import use it: fitted on this database, kept, and
//! refitted when the database has changed a lot.
use crate::domain::customer::CustomerFields;
use crate::domain::linkage::Model;
use crate::domain::matching::{self, Record};
use crate::error::Result;
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
    Ok(tx
        .neighbours(&f.keys, 50)?
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
