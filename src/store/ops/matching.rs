//! What the duplicate model is fitted on and checked against: shared by add, import and
//! dedupe.
use crate::domain::customer::MatchKeys;
use crate::domain::linkage::{Keys, Model};
use crate::domain::matching::Record;
use crate::error::Result;

pub trait MatchingOps {
    /// Live (not deleted or merged) customers.
    fn live_count(&mut self) -> Result<i64>;
    /// The model fitted last time, if any.
    fn saved_model(&mut self) -> Result<Option<Model>>;
    fn save_model(&mut self, model: &Model) -> Result<()>;
    /// The `limit` most recent live customers, to fit the model on.
    fn recent_records(&mut self, limit: usize) -> Result<Vec<Record>>;
    /// Live customers with the same phone, e-mail or name key (indexed), at most `limit`.
    fn neighbours(&mut self, keys: &MatchKeys, limit: i64) -> Result<Vec<Record>>;
    /// One customer's record from its stored keys, live or not (None: no such id).
    fn match_record(&mut self, id: i64) -> Result<Option<Record>>;
    /// The records of several customers at once (those that exist; any order): what a
    /// bulk import fetches ahead for a batch of rows where a lookup is a round trip.
    fn match_records(&mut self, ids: &[i64]) -> Result<Vec<Record>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(self.match_record(*id)?);
        }
        Ok(out)
    }
    /// Every live customer, by id (the dedupe scan).
    fn all_records(&mut self) -> Result<Vec<Record>>;
    /// Customers holding exactly one of these phone or e-mail keys, with the keys asked
    /// for that matched: (id, phone key, e-mail key). For a store whose reads hide or mask
    /// some customers' keys from the reader (server mode: the server answers by equality,
    /// counted against a daily quota); where reads see every key (SQLite), none needed.
    fn whole_key_matches(&mut self, _phones: &[&str], _emails: &[&str]) -> Result<Vec<KeyMatch>> {
        Ok(Vec::new())
    }
    /// What the reader has left of today's whole-key lookups (server mode, where they
    /// are counted per user and day); None where nothing is counted.
    fn key_lookups_left(&mut self) -> Result<Option<i64>> {
        Ok(None)
    }
    /// `all_records`, one at a time into `f`, by id: the scan keeps only their keys.
    fn each_record(&mut self, f: &mut dyn FnMut(Record)) -> Result<()> {
        for r in self.all_records()? {
            f(r);
        }
        Ok(())
    }
    /// `each_record` as (id, match keys, owner login), borrowed: a store that has the
    /// keys at hand need not build a `Record` for each customer.
    fn each_keys(&mut self, f: &mut (dyn FnMut(i64, &Keys, Option<&str>) + Send)) -> Result<()> {
        self.each_record(&mut |r| f(r.id, &r.keys(), r.owner.as_deref()))
    }
}

/// A customer found by a whole phone or e-mail key: its id and the keys that matched.
pub type KeyMatch = (i64, Option<String>, Option<String>);
