//! The loader of `pool import`: leads into the pool. One transaction for the whole file:
//! a crash, kill or Ctrl-C leaves the database as it was; every row that passed
//! validation is in, or none is. Rows are checked against the database and the rows
//! before them (both live in the transaction), so a second run of the same file adds
//! nothing. Rejected rows, duplicates and progress go to a [`Sink`] (the command writes
//! them to files and the terminal).
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{audit_value, matching::model_for, scope};
use crate::domain::columns::Target;
use crate::domain::customer::CustomerFields;
use crate::domain::import as rules;
use crate::domain::linkage::Model;
use crate::domain::matching::{self, Record};
use crate::domain::roles::{Action, User};
use crate::domain::rules::day_start;
use crate::error::{Error, Result};
use crate::import::{Lead, LeadReader, Reject, Row};
use crate::store::ops::audit::Record as AuditRecord;
use crate::store::ops::import::NewLead;
use crate::store::ops::pool::OwnershipEvent;
use crate::store::{Backend, Placement, Tx};

/// What to do with a row the dedupe model calls a duplicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDuplicate {
    /// Keep the existing customer, drop the row.
    Skip,
    /// Fill the existing customer's empty fields from the row.
    Merge,
    /// Add the row as a new customer anyway.
    Create,
}

impl OnDuplicate {
    pub fn as_str(self) -> &'static str {
        match self {
            OnDuplicate::Skip => "skip",
            OnDuplicate::Merge => "merge",
            OnDuplicate::Create => "create",
        }
    }
}

/// What an import asks for.
#[derive(Debug, Clone)]
pub struct Options {
    /// The input as the summary and the audit row name it.
    pub file: String,
    /// The input's size in bytes, when known: a large file next to the table is loaded
    /// in bulk mode.
    pub size: Option<u64>,
    /// Rows the input says it holds (a workbook's dimension): the size says nothing
    /// about a compressed workbook's rows.
    pub rows_hint: Option<u64>,
    pub on_duplicate: OnDuplicate,
    /// Into this pool (default: public)…
    pub pool: Option<String>,
    /// …or to this user.
    pub owner: Option<String>,
    /// Check everything and report, write nothing (but the audit row).
    pub dry_run: bool,
}

/// What an import did.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub file: String,
    pub encoding: String,
    pub sha256: String,
    pub rows: u64,
    pub imported: u64,
    pub duplicates_in_file: u64,
    pub duplicates_in_database: u64,
    pub merged: u64,
    /// Duplicates of customers the importer may not edit (someone else's, another
    /// team's, or pooled for a member): skipped, not merged.
    pub merge_refused: u64,
    pub rejected: u64,
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Rows imported without an invalid optional field, by what was wrong.
    pub warned: u64,
    pub warned_by_reason: BTreeMap<String, u64>,
    pub first_id: Option<i64>,
    pub last_id: Option<i64>,
    pub rejects_file: Option<String>,
    pub duplicates_file: Option<String>,
    pub dry_run: bool,
    pub seconds: f64,
}

/// The existing customer (or earlier row) a row duplicates, by the dedupe model.
#[derive(Debug, Clone)]
pub struct Duplicate {
    pub id: i64,
    pub probability: f64,
    pub reasons: String,
}

/// Where the loader reports as it goes.
pub trait Sink {
    /// A row that failed validation.
    fn reject(&mut self, r: &Reject) -> Result<()>;
    /// A row imported with a warning (an invalid optional field left out).
    fn warning(&mut self, _line: u64, _message: &str) -> Result<()> {
        Ok(())
    }
    /// A row skipped or merged as a duplicate (`action`), of customer `d.id` or of the
    /// file's line `matched_line`.
    fn duplicate(
        &mut self,
        line: u64,
        action: &str,
        d: &Duplicate,
        matched_line: Option<u64>,
    ) -> Result<()>;
    /// Bytes of the input read and rows handled so far.
    fn progress(&mut self, bytes: u64, rows: u64);
    /// The rows are in; the indexes are being built.
    fn building_indexes(&mut self);
    /// Everything is decided, before the commit: close the reports; the names of the
    /// rejects and duplicates files, if any was written.
    fn finish(&mut self) -> Result<(Option<String>, Option<String>)>;
}

/// The most rows a bulk import reserves key-map room for up front.
const BULK_RESERVE_ROWS: i64 = 1_000_000;

/// Rows handed from the reader thread to the writer in one message: this many, or
/// fewer when their records add up to `BATCH_BYTES` (rows may be up to 1 MiB each).
const BATCH: usize = 1024;
const BATCH_BYTES: usize = 2 * 1024 * 1024;

/// New customers a bulk import queues before it writes them in one call.
const BULK_ROWS: usize = 64;

/// The match keys of rows in the database and in the file, hashed, for a bulk import
/// whose key indexes are suspended. A hit is confirmed against the stored row, so a
/// hash collision can never drop a row.
#[derive(Default)]
struct KeyMap {
    map: HashMap<u64, i64, BuildHasherDefault<AlreadyHashed>>,
}

/// The key map's keys are SipHash values already: hashing them again only costs time.
#[derive(Default)]
struct AlreadyHashed(u64);

impl Hasher for AlreadyHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The up to three match-key hashes of a row, without a heap allocation.
struct RowKeys {
    keys: [u64; 3],
    len: usize,
}

impl std::ops::Deref for RowKeys {
    type Target = [u64];

    fn deref(&self) -> &[u64] {
        &self.keys[..self.len]
    }
}

fn key_hash(kind: u8, a: &str, b: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (kind, a, b).hash(&mut h);
    h.finish()
}

fn row_keys(
    phone: Option<&str>,
    email: Option<&str>,
    name: Option<&str>,
    company: Option<&str>,
) -> RowKeys {
    let mut k = RowKeys {
        keys: [0; 3],
        len: 0,
    };
    let mut push = |h: u64| {
        k.keys[k.len] = h;
        k.len += 1;
    };
    if let Some(p) = phone {
        push(key_hash(0, p, ""));
    }
    if let Some(e) = email {
        push(key_hash(1, e, ""));
    }
    if let (Some(n), Some(c)) = (name, company) {
        push(key_hash(2, n, c));
    }
    k
}

fn fields_keys(f: &CustomerFields) -> RowKeys {
    let k = &f.keys;
    row_keys(
        k.phone.as_deref(),
        k.email.as_deref(),
        k.name.as_deref(),
        k.company.as_deref(),
    )
}

impl KeyMap {
    fn add(&mut self, id: i64, keys: &[u64]) {
        for k in keys {
            self.map.entry(*k).or_insert(id);
        }
    }

    /// The customers (in the database or queued) sharing a key with the row.
    fn candidates(&self, f: &CustomerFields) -> Vec<i64> {
        self.candidates_of(&fields_keys(f))
    }

    /// The same, from the row's key hashes (computed once for lookup and insert).
    fn candidates_of(&self, keys: &RowKeys) -> Vec<i64> {
        let mut ids: Vec<i64> = Vec::with_capacity(3);
        for h in keys.iter() {
            if let Some(id) = self.map.get(h) {
                if !ids.contains(id) {
                    ids.push(*id);
                }
            }
        }
        ids
    }
}

fn best_match(model: &Model, row: &CustomerFields, candidates: &[Record]) -> Option<Duplicate> {
    if candidates.is_empty() {
        return None;
    }
    let me = record_of(0, row);
    candidates
        .iter()
        .map(|c| (c, model.probability(&me, c)))
        .filter(|(_, p)| *p >= matching::DEFAULT_THRESHOLD)
        .max_by(|x, y| x.1.total_cmp(&y.1).then(y.0.id.cmp(&x.0.id)))
        .map(|(c, p)| Duplicate {
            id: c.id,
            probability: p,
            reasons: model.explain(&me, c).reasons(),
        })
}

/// A validated row as the model sees it, from the keys `validate` computed.
fn record_of(id: i64, f: &CustomerFields) -> Record {
    let k = &f.keys;
    Record::from_keys(
        id,
        f.name.as_deref(),
        k.name.as_deref(),
        k.company.as_deref(),
        k.phone.as_deref(),
        k.email.as_deref(),
        f.city.as_deref(),
        f.address.as_deref(),
    )
}

/// New customers of a bulk import, queued and written `BULK_ROWS` at a time with the
/// ids they were given.
struct Queue {
    /// The next id when the backend numbers nothing itself (see `reserve`).
    next_id: i64,
    /// Ids the backend reserved for this import and not yet given, and whether it
    /// reserves at all (a server: other clients commit customers meanwhile).
    reserved: std::collections::VecDeque<i64>,
    reserves: bool,
    /// How many ids the next reservation asks for (doubling: a small file wastes few).
    reserve: usize,
    rows: Vec<NewLead>,
}

/// The most ids one reservation asks for.
const RESERVE_MAX: usize = 65_536;

impl Queue {
    fn new(next_id: i64) -> Queue {
        Queue {
            next_id,
            reserved: Default::default(),
            reserves: true,
            reserve: BULK_ROWS,
            rows: Vec::with_capacity(BULK_ROWS),
        }
    }

    /// The id of the next new customer.
    fn take_id(&mut self, tx: &mut dyn Tx) -> Result<i64> {
        if self.reserves && self.reserved.is_empty() {
            match tx.reserve_customer_ids(self.reserve)? {
                Some(ids) if ids.is_empty() => {
                    return Err(Error::Other("the server reserved no customer ids".into()))
                }
                Some(ids) => self.reserved.extend(ids),
                None => self.reserves = false,
            }
            self.reserve = (self.reserve * 2).min(RESERVE_MAX);
        }
        Ok(match self.reserved.pop_front() {
            Some(id) => id,
            None => {
                self.next_id += 1;
                self.next_id - 1
            }
        })
    }

    fn flush(
        &mut self,
        tx: &mut dyn Tx,
        place: &Placement,
        created_by: i64,
        now: i64,
    ) -> Result<()> {
        if !self.rows.is_empty() {
            tx.insert_leads(place, Some(created_by), now, &self.rows)?;
            self.rows.clear();
        }
        Ok(())
    }

    /// The fields of a queued (not yet written) customer.
    fn pending_fields(&self, id: i64) -> Option<&CustomerFields> {
        self.rows.iter().find(|r| r.id == id).map(|r| &r.fields)
    }
}

/// Parsing, decoding and validating run on a second thread, a bounded queue ahead of
/// the writer: two cores, and memory that does not grow with the file.
fn read_ahead<R: Read + Send + 'static>(
    reader: LeadReader<R>,
    bytes_read: Arc<AtomicU64>,
) -> (
    mpsc::Receiver<Vec<Row>>,
    std::thread::JoinHandle<Result<String>>,
) {
    let (send, recv) = mpsc::sync_channel::<Vec<Row>>(4);
    let parser = std::thread::spawn(move || -> Result<String> {
        let mut reader = reader;
        let mut batch = Vec::with_capacity(BATCH);
        let mut batch_bytes = 0;
        while let Some(row) = reader.next() {
            batch.push(row?);
            batch_bytes += reader.last_record_bytes();
            if batch.len() == BATCH || batch_bytes >= BATCH_BYTES {
                batch_bytes = 0;
                bytes_read.store(reader.bytes_read(), Ordering::Relaxed);
                if send
                    .send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                    .is_err()
                {
                    // The writer stopped (it reports why); stop reading.
                    return Ok(String::new());
                }
            }
        }
        if !batch.is_empty() && send.send(batch).is_err() {
            return Ok(String::new());
        }
        drop(send);
        reader.finish()
    });
    (recv, parser)
}

/// Refuses, before anything is looked up or written, an import that needs more whole
/// phone/e-mail lookups than the importer has left today: on a server every key a
/// member looks up or writes is counted per day (server migrations 20–21), and an
/// import past the quota would fail part-way having spent it. `count_keys` counts the
/// input's keys (a second read of the file); it is not called where nothing is counted
/// (SQLite, admins).
pub fn check_lookup_quota(
    store: &mut dyn Backend,
    me: &User,
    count_keys: &mut dyn FnMut() -> Result<u64>,
) -> Result<()> {
    scope::require(me, Action::Import)?;
    let left = store.read()?.key_lookups_left()?;
    if let Some(left) = left {
        let needed = count_keys()?;
        if needed > left.max(0) as u64 {
            return Err(Error::LookupQuota { needed, left });
        }
    }
    Ok(())
}

/// The distinct phone and e-mail keys of the valid rows `reader` yields (each is one
/// lookup, or one write counted as one, in the import's transaction).
pub fn keys_in<R: Read>(reader: LeadReader<R>) -> Result<u64> {
    let mut keys = std::collections::HashSet::new();
    for row in reader {
        if let Row::Lead(l) = row? {
            let k = l.fields.keys;
            keys.extend(k.phone.map(|p| format!("p{p}")));
            keys.extend(k.email.map(|e| format!("e{e}")));
        }
    }
    Ok(keys.len() as u64)
}

/// Imports the rows of `reader` for `me`.
pub fn run<R: Read + Send + 'static>(
    store: &mut dyn Backend,
    me: &User,
    reader: LeadReader<R>,
    o: &Options,
    sink: &mut dyn Sink,
    now: i64,
) -> Result<Summary> {
    scope::require(me, Action::Import)?;
    let started = Instant::now();
    let encoding = reader.encoding.to_string();
    let custom_names: Vec<String> = reader
        .targets
        .iter()
        .filter_map(|t| match t {
            Target::Custom(n) => Some(n.clone()),
            _ => None,
        })
        .collect();
    let bytes_read = Arc::new(AtomicU64::new(0));
    let (recv, parser) = read_ahead(reader, Arc::clone(&bytes_read));

    // A dry run is rolled back: it may run under POOL_NOW like any read.
    let mut tx = if o.dry_run {
        store.write_unchecked()?
    } else {
        store.write()?
    };
    // A server sums what this transaction inserts into one `import` audit row (the one
    // this function notes at the end), rather than a row per customer.
    tx.intend("import", None)?;
    // Bulk work: a bigger page cache for this connection only (bounded, 48 MiB, so the
    // whole import stays under ~200 MB whatever the file size).
    tx.bulk_cache(48)?;
    let (place, owner) = match (&o.owner, &o.pool) {
        (Some(login), _) => {
            let u = tx.user(login)?;
            rules::check_owner(me, &u)?;
            let place = Placement {
                pool_id: 1,
                owner_id: Some(u.id),
            };
            (place, Some(u))
        }
        (None, Some(p)) => {
            let pool_id = tx.pool_id(p)?;
            let visible = tx.pool_visible(pool_id, me.team_id)?;
            rules::check_pool(me, p, visible)?;
            let place = Placement {
                pool_id,
                owner_id: None,
            };
            (place, None)
        }
        (None, None) => (
            Placement {
                pool_id: 1,
                owner_id: None,
            },
            None,
        ),
    };
    let takes_for_self = rules::takes_for_self(me, place.owner_id);
    rules::check_copies(takes_for_self, o.on_duplicate == OnDuplicate::Create)?;
    let max_before = tx.max_customer_id()?;
    let known = tx.custom_field_names()?;
    rules::check_custom_fields(&known, &custom_names, crate::import::MAX_CUSTOM_FIELDS)?;
    // The dedupe model decides which rows are duplicates (fitted on this database).
    let model = model_for(&mut *tx)?;
    // The line each customer added by this import came from (index: id - max_before - 1).
    let mut line_of: Vec<u32> = Vec::new();
    tx.remember_custom_fields(&custom_names)?;
    // Bulk mode when the file is large next to the table (about 150 bytes a row): the
    // indexes are rebuilt once at the end instead of updated row by row; on a server also
    // into a bigger table (a duplicate lookup per row would be a round trip).
    let existing = tx.live_count()?;
    let expected_rows = o
        .rows_hint
        .or(o.size.map(|s| s / 150))
        .unwrap_or(0)
        .min(i64::MAX as u64) as i64;
    let bulk =
        expected_rows >= 10_000 && (expected_rows > existing || tx.key_map_for_large_files());
    let mut keymap = KeyMap::default();
    let suspended = if bulk {
        // Sized once: growing a map of millions of keys would briefly hold two copies.
        // The estimate trusts ~150 bytes a row only up to a million rows: a file of a few
        // huge rows must not reserve gigabytes (a bigger file grows the map as it goes).
        keymap
            .map
            .reserve(((expected_rows.min(BULK_RESERVE_ROWS) + existing) * 3) as usize);
        tx.for_each_match_keys(&mut |id, [p, e, n, c]| {
            keymap.add(id, &row_keys(p, e, n, c));
        })?;
        tx.suspend_indexes()?
    } else {
        Default::default()
    };
    // Bulk mode writes new customers in multi-row statements (explicit ids). Owner
    // imports keep the row-by-row path where each row's ownership event is the app's.
    let mut queue = (bulk && (place.owner_id.is_none() || tx.bulk_owner_imports()))
        .then(|| Queue::new(max_before + 1));
    let mut s = Summary {
        file: o.file.clone(),
        encoding,
        dry_run: o.dry_run,
        ..Default::default()
    };
    // Where a lookup is a round trip, the records of a batch's candidates (already in the
    // database or handed to the store) are fetched in one call before the batch.
    let prefetch = bulk && o.on_duplicate != OnDuplicate::Create && tx.key_map_for_large_files();
    for batch in recv {
        let mut known: HashMap<i64, Option<Record>> = HashMap::new();
        if prefetch {
            // Queued rows are read from the queue, not the store.
            let queued = |id: &i64| {
                queue
                    .as_ref()
                    .is_some_and(|q| q.pending_fields(*id).is_some())
            };
            let mut ids: Vec<i64> = batch
                .iter()
                .filter_map(|r| match r {
                    Row::Lead(l) => Some(keymap.candidates(&l.fields)),
                    Row::Reject(_) => None,
                })
                .flatten()
                .filter(|id| !queued(id))
                .collect();
            // Customers the reader's view masks or hides, found by their whole phone or
            // e-mail (server mode): candidates too, with the keys that matched.
            let (phones, emails): (Vec<&str>, Vec<&str>) = batch
                .iter()
                .filter_map(|r| match r {
                    Row::Lead(l) => Some(&l.fields.keys),
                    Row::Reject(_) => None,
                })
                .fold((Vec::new(), Vec::new()), |(mut p, mut e), k| {
                    p.extend(k.phone.as_deref());
                    e.extend(k.email.as_deref());
                    (p, e)
                });
            // (An admin's view hides no key: nothing to ask.)
            let matches = if me.role == crate::domain::roles::Role::Admin {
                Vec::new()
            } else {
                tx.whole_key_matches(&phones, &emails)?
            };
            for (id, p, e) in &matches {
                keymap.add(*id, &row_keys(p.as_deref(), e.as_deref(), None, None));
                ids.push(*id);
            }
            ids.sort_unstable();
            ids.dedup();
            known.extend(ids.iter().map(|id| (*id, None)));
            let mut records = tx.match_records(&ids)?;
            super::matching::add_key_matches(&mut *tx, matches, &mut records)?;
            for r in records {
                known.insert(r.id, Some(r));
            }
        }
        for row in batch {
            s.rows += 1;
            let lead = match row {
                Row::Reject(r) => {
                    s.rejected += 1;
                    *s.rejected_by_reason.entry(r.kind.clone()).or_default() += 1;
                    sink.reject(&r)?;
                    continue;
                }
                Row::Lead(lead) => lead,
            };
            if !lead.warnings.is_empty() {
                s.warned += 1;
                for (kind, message) in &lead.warnings {
                    *s.warned_by_reason.entry(kind.clone()).or_default() += 1;
                    sink.warning(lead.line, message)?;
                }
            }
            rules::check_lead_stage(me.role, lead.line, lead.stage)?;
            // The row's key hashes, when the key map is asked: reused to add the row.
            let mut row_hashes = None;
            let dup = match (o.on_duplicate, bulk) {
                (OnDuplicate::Create, _) => None,
                (_, true) => {
                    let mut found = Vec::new();
                    let hashes = row_hashes.insert(fields_keys(&lead.fields));
                    for id in keymap.candidates_of(hashes) {
                        let queued = queue
                            .as_ref()
                            .and_then(|q| q.pending_fields(id))
                            .map(|f| record_of(id, f));
                        match (queued, known.get(&id)) {
                            (Some(r), _) => found.push(r),
                            (None, Some(r)) => found.extend(r.clone()),
                            (None, None) => found.extend(tx.match_record(id)?),
                        }
                    }
                    best_match(&model, &lead.fields, &found)
                }
                (_, false) => {
                    let found = super::matching::neighbours(&mut *tx, &lead.fields.keys, 20)?;
                    best_match(&model, &lead.fields, &found)
                }
            };
            match dup {
                Some(d) => {
                    let existing = d.id;
                    // A line of this file (0: a customer someone else added meanwhile).
                    let matched_line = usize::try_from(existing - max_before - 1)
                        .ok()
                        .and_then(|i| line_of.get(i))
                        .filter(|l| **l != 0)
                        .map(|l| u64::from(*l));
                    if matched_line.is_some() {
                        s.duplicates_in_file += 1;
                    } else {
                        s.duplicates_in_database += 1;
                    }
                    let merge = o.on_duplicate == OnDuplicate::Merge;
                    let action = if merge { "merged" } else { "skipped" };
                    sink.duplicate(lead.line, action, &d, matched_line)?;
                    if merge {
                        // The customer may still be queued: write the queue first.
                        if let Some(q) = queue.as_mut() {
                            q.flush(&mut *tx, &place, me.id, now)?;
                        }
                        // Its record changes with the merge: looked up afresh from here.
                        known.remove(&existing);
                        let target = tx.customer(existing)?;
                        // Only into customers the importer may edit (the one scope
                        // rule); the rest stay skipped duplicates.
                        if scope::check(&mut *tx, me, &target).is_err() {
                            s.merge_refused += 1;
                        } else if let Some(f) = merge_into(&mut *tx, &target, &lead, me, now)? {
                            s.merged += 1;
                            keymap.add(existing, &fields_keys(&f));
                        }
                    }
                }
                None => {
                    let custom = if lead.custom.is_empty() {
                        None
                    } else {
                        Some(Value::Object(lead.custom.clone()).to_string())
                    };
                    let stage = lead.stage.map(|s| s.as_str()).unwrap_or("lead");
                    let id = match queue.as_mut() {
                        Some(q) => {
                            let keys = row_hashes.unwrap_or_else(|| fields_keys(&lead.fields));
                            let id = q.take_id(&mut *tx)?;
                            q.rows.push(NewLead {
                                id,
                                fields: lead.fields,
                                stage,
                                custom,
                            });
                            if q.rows.len() == BULK_ROWS {
                                q.flush(&mut *tx, &place, me.id, now)?;
                            }
                            keymap.add(id, &keys);
                            id
                        }
                        None => tx.insert_customer(
                            &lead.fields,
                            stage,
                            custom.as_deref(),
                            &place,
                            Some(me.id),
                            now,
                        )?,
                    };
                    // (Batched rows' owner history is the backend's: `bulk_owner_imports`.)
                    if let (Some(owner), None) = (place.owner_id, &queue) {
                        tx.record_event(&OwnershipEvent {
                            customer_id: id,
                            event: "import",
                            from_user: None,
                            to_user: Some(owner),
                            by_user: me.id,
                            pool_id: place.pool_id,
                            reason: None,
                            at: now,
                        })?;
                    }
                    if let Ok(i) = usize::try_from(id - max_before - 1) {
                        if line_of.len() <= i {
                            line_of.resize(i + 1, 0);
                        }
                        line_of[i] = u32::try_from(lead.line).unwrap_or(u32::MAX).max(1);
                    }
                    s.imported += 1;
                    s.first_id.get_or_insert(id);
                    s.last_id = Some(id);
                }
            }
        }
        sink.progress(bytes_read.load(Ordering::Relaxed), s.rows);
    }
    if let Some(q) = queue.as_mut() {
        q.flush(&mut *tx, &place, me.id, now)?;
    }
    drop(queue);
    s.sha256 = parser
        .join()
        .map_err(|_| Error::Other("the CSV reader thread panicked".into()))??;
    sink.building_indexes();
    tx.restore_indexes(&suspended)?;
    if let Some(owner) = &owner {
        let rules = tx.rules(place.pool_id)?;
        let facts = tx.claim_facts(0, None, owner.id, place.pool_id, &rules, day_start(now))?;
        rules::check_owner_limits(
            &rules,
            &owner.login,
            facts.owned,
            takes_for_self,
            facts.claims_today,
            s.imported as i64,
        )?;
    }
    (s.rejects_file, s.duplicates_file) = sink.finish()?;
    let after = json!({
        "file": s.file,
        "sha256": s.sha256,
        "rows": s.rows,
        "imported": s.imported,
        "duplicates_in_file": s.duplicates_in_file,
        "duplicates_in_database": s.duplicates_in_database,
        "merged": s.merged,
        "merge_refused": s.merge_refused,
        "rejected": s.rejected,
        "first_id": s.first_id,
        "last_id": s.last_id,
        "on_duplicate": o.on_duplicate.as_str(),
    });
    let record = |action| AuditRecord {
        at: now,
        actor: &me.login,
        action,
        entity: "import",
        entity_id: None,
        before: None,
        after: Some(after.clone()),
    };
    if o.dry_run {
        drop(tx);
        // A dry run writes nothing but is recorded: its duplicate counts say which phones
        // and e-mails exist, so a series of them is visible in the audit log.
        let mut tx = store.write_unchecked()?;
        tx.audit(record("import_dry_run"))?;
        tx.commit()?;
    } else {
        tx.audit(record("import"))?;
        tx.commit()?;
    }
    s.seconds = (started.elapsed().as_secs_f64() * 100.0).round() / 100.0;
    Ok(s)
}

/// Fills the existing customer's empty fields (and adds tags and custom fields) from a
/// duplicate row, with its audit row; the customer's new fields if anything changed.
fn merge_into(
    tx: &mut dyn Tx,
    c: &crate::domain::customer::Customer,
    lead: &Lead,
    me: &User,
    now: i64,
) -> Result<Option<CustomerFields>> {
    let Some(fill) = rules::fill_from_duplicate(c, &lead.fields, &lead.custom)? else {
        return Ok(None);
    };
    let (before, f) = (&fill.before, fill.after);
    tx.fill_customer(c.id, &f, &c.stage, fill.custom.as_deref(), now)?;
    let mut changed_before = Map::new();
    let mut changed_after = Map::new();
    for (k, o, n) in [
        ("name", &before.name, &f.name),
        ("company", &before.company, &f.company),
        ("phone", &before.phone, &f.phone),
        ("email", &before.email, &f.email),
        ("city", &before.city, &f.city),
        ("address", &before.address, &f.address),
        ("source", &before.source, &f.source),
        ("notes", &before.notes, &f.notes),
    ] {
        if o != n {
            changed_before.insert(k.into(), audit_value(k, o));
            changed_after.insert(k.into(), audit_value(k, n));
        }
    }
    if before.tags != f.tags {
        changed_before.insert("tags".into(), json!(before.tags));
        changed_after.insert("tags".into(), json!(f.tags));
    }
    if fill.custom.is_some() {
        changed_after.insert("custom_fields_added".into(), json!(fill.custom_added));
    }
    tx.audit(AuditRecord {
        at: now,
        actor: &me.login,
        action: "import_merge",
        entity: "customer",
        entity_id: Some(c.id),
        before: Some(Value::Object(changed_before)),
        after: Some(Value::Object(changed_after)),
    })?;
    Ok(Some(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_keys_hold_each_present_key_once() {
        assert_eq!(
            row_keys(Some("86138"), Some("a@b.cn"), Some("李"), Some("云帆")).len(),
            3
        );
        assert_eq!(row_keys(Some("86138"), None, Some("李"), None).len(), 1);
        assert!(row_keys(None, None, None, Some("云帆")).is_empty());
        let k = row_keys(Some("86138"), Some("86138"), None, None);
        assert_ne!(k[0], k[1], "phone and e-mail keys are told apart");
    }

    #[test]
    fn key_map_finds_what_was_added() {
        let mut m = KeyMap::default();
        for id in 0..10_000i64 {
            m.add(id, &row_keys(Some(&id.to_string()), None, None, None));
        }
        for id in 0..10_000i64 {
            let h = row_keys(Some(&id.to_string()), None, None, None)[0];
            assert_eq!(m.map.get(&h), Some(&id));
        }
        assert_eq!(m.map.len(), 10_000);
    }
}
