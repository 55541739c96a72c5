//! `pool import FILE|-`: leads into the pool. One transaction for the whole file: a
//! crash, kill or Ctrl-C leaves the database as it was; every row that passed validation
//! is in, or none is. Rows are checked against the database and the rows before them
//! (both live in the transaction), so a second run of the same file adds nothing.
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use clap::{Args, ValueEnum};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::Ctx;
use crate::domain::linkage::Model;
use crate::domain::matching::{self, Record};
use crate::domain::roles::{Action, Role};
use crate::error::{Error, Result};
use crate::import::decode::Charset;
use crate::import::{Defaults, Lead, LeadReader, Reject, Row};

use crate::store::customers::{self, Placement};
use crate::store::{audit, pool, users};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnDuplicate {
    /// Keep the existing customer, drop the row
    Skip,
    /// Fill the existing customer's empty fields from the row
    Merge,
    /// Add the row as a new customer anyway
    Create,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Delimiter {
    #[value(name = ",")]
    Comma,
    #[value(name = ";")]
    Semicolon,
    Tab,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// CSV file, or - for stdin
    pub file: PathBuf,
    /// Map a column to a field: "Mobile=phone" (field may also be custom or ignore); repeatable
    #[arg(long, value_name = "COLUMN=FIELD")]
    pub map: Vec<String>,
    /// Text encoding of the file
    #[arg(long, value_enum, default_value_t = Charset::Auto)]
    pub encoding: Charset,
    /// Column separator (default: detected from the header)
    #[arg(long, value_enum)]
    pub delimiter: Option<Delimiter>,
    /// What to do with a row the dedupe model calls a duplicate of a customer or an earlier
    /// row (match probability ≥ 0.99 among those sharing a phone, e-mail, or name+company)
    #[arg(long, value_enum, default_value_t = OnDuplicate::Skip)]
    pub on_duplicate: OnDuplicate,
    /// Put the customers in this pool (default: public)
    #[arg(long, value_name = "POOL", conflicts_with = "owner")]
    pub pool: Option<String>,
    /// Give the customers to this user instead of a pool
    #[arg(long, value_name = "USER")]
    pub owner: Option<String>,
    /// Source for rows that have none, e.g. "2026杭州展会"
    #[arg(long)]
    pub source: Option<String>,
    /// Tags added to every row
    #[arg(long)]
    pub tags: Option<String>,
    /// Check everything and report, write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Where to write rejected rows with their reason (default: FILE.rejects.csv next to
    /// the file, or FILE.rejects-2.csv … if that exists; for stdin, stdin.rejects.csv in
    /// the current folder); never the database
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,
    /// Overwrite the --rejects and --duplicates files if they exist (still never a
    /// database)
    #[arg(long)]
    pub force: bool,
    /// Where to list the rows skipped or merged as duplicates, with the customer (or line)
    /// they match and the match probability (default: FILE.duplicates.csv next to the file)
    #[arg(long, value_name = "FILE")]
    pub duplicates: Option<PathBuf>,
}

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
    pub first_id: Option<i64>,
    pub last_id: Option<i64>,
    pub rejects_file: Option<String>,
    pub duplicates_file: Option<String>,
    pub dry_run: bool,
    pub seconds: f64,
}

fn parse_map(items: &[String]) -> Result<Vec<(String, String)>> {
    items
        .iter()
        .map(|m| {
            m.split_once('=')
                .map(|(c, f)| (c.trim().to_string(), f.trim().to_lowercase()))
                .filter(|(c, f)| !c.is_empty() && !f.is_empty())
                .ok_or_else(|| Error::invalid("--map", format!("'{m}' is not COLUMN=FIELD")))
        })
        .collect()
}

/// The rejects file of `pool import -` when --rejects is not given.
const STDIN_REJECTS: &str = "stdin.rejects.csv";

/// The rejects file: the original cells plus line and reason.
struct Rejects {
    path: PathBuf,
    writer: Option<csv::Writer<File>>,
    headers: Vec<String>,
    /// The database's files: the rejects file is never written over them.
    protect: crate::outfile::Protected,
    /// A file named with --rejects, opened (and checked) before the import starts; it is
    /// removed again if no row was rejected and pool created it.
    opened: Option<(File, bool)>,
}

impl Rejects {
    fn write(&mut self, r: &Reject) -> Result<()> {
        if self.writer.is_none() {
            let file = match self.opened.take() {
                Some((f, _)) => f,
                None => crate::outfile::create(&self.path, "--rejects", &self.protect, false)?,
            };
            let mut w = csv::WriterBuilder::new().flexible(true).from_writer(file);
            let mut head = vec!["line".to_string(), "reason".to_string()];
            head.extend(self.headers.iter().cloned());
            w.write_record(&head)?;
            self.writer = Some(w);
        }
        if let Some(w) = self.writer.as_mut() {
            let mut rec = vec![r.line.to_string(), r.reason.clone()];
            rec.extend(r.cells.iter().cloned());
            // Pad so the rejects file itself is never ragged.
            while rec.len() < self.headers.len() + 2 {
                rec.push(String::new());
            }
            w.write_record(&rec)?;
        }
        Ok(())
    }
}

/// The most rows a bulk import reserves key-map room for up front.
const BULK_RESERVE_ROWS: i64 = 1_000_000;

/// Rows handed from the reader thread to the writer in one message: this many, or
/// fewer when their records add up to `BATCH_BYTES` (rows may be up to 1 MiB each).
const BATCH: usize = 1024;
const BATCH_BYTES: usize = 2 * 1024 * 1024;

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

impl KeyMap {
    fn add(&mut self, id: i64, keys: &[u64]) {
        for k in keys {
            self.map.entry(*k).or_insert(id);
        }
    }

    /// The customers (in the database or queued) sharing a key with the row.
    fn candidates(&self, f: &crate::domain::customer::CustomerFields) -> Vec<i64> {
        let k = &f.keys;
        let mut ids: Vec<i64> = Vec::with_capacity(3);
        for h in row_keys(
            k.phone.as_deref(),
            k.email.as_deref(),
            k.name.as_deref(),
            k.company.as_deref(),
        )
        .iter()
        {
            if let Some(id) = self.map.get(h) {
                if !ids.contains(id) {
                    ids.push(*id);
                }
            }
        }
        ids
    }
}

/// The existing customer a row duplicates, by the dedupe model: the likeliest of the
/// candidates the key lookups found, if its match probability reaches the threshold.
struct Duplicate {
    id: i64,
    probability: f64,
    reasons: String,
}

fn best_match(
    model: &Model,
    row: &crate::domain::customer::CustomerFields,
    candidates: &[Record],
) -> Option<Duplicate> {
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
fn record_of(id: i64, f: &crate::domain::customer::CustomerFields) -> Record {
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

/// The duplicates report: every row skipped or merged as a duplicate, and why.
struct DuplicateReport {
    path: PathBuf,
    writer: Option<csv::Writer<File>>,
    /// The database's files: never written over (see `outfile`).
    protect: crate::outfile::Protected,
    force: bool,
}

impl DuplicateReport {
    fn write(
        &mut self,
        line: u64,
        action: &str,
        d: &Duplicate,
        matched_line: Option<u64>,
    ) -> Result<()> {
        if self.writer.is_none() {
            let file =
                crate::outfile::create(&self.path, "--duplicates", &self.protect, self.force)?;
            let mut w = csv::Writer::from_writer(file);
            w.write_record([
                "line",
                "action",
                "matched_id",
                "matched_line",
                "probability",
                "reasons",
            ])?;
            self.writer = Some(w);
        }
        if let Some(w) = self.writer.as_mut() {
            w.write_record([
                line.to_string(),
                action.to_string(),
                d.id.to_string(),
                matched_line.map(|l| l.to_string()).unwrap_or_default(),
                format!("{:.4}", d.probability),
                d.reasons.clone(),
            ])?;
        }
        Ok(())
    }
}

pub fn run(ctx: &mut Ctx, a: &ImportArgs) -> Result<()> {
    let me = ctx.require(Action::Import)?;
    let now = ctx.now()?;
    let out = ctx.out;
    let started = Instant::now();
    let map = parse_map(&a.map)?;
    let stdin = a.file.as_os_str() == "-";
    // The database's files: never read as the input (opening and closing a descriptor of
    // them drops the locks this process holds), never written as rejects or duplicates.
    let protect = crate::outfile::Protected::database(&ctx.db_path()?);
    if !stdin && protect.holds_path(&a.file) {
        return Err(Error::invalid(
            "FILE",
            "is the live database or one of its files, not a CSV file",
        ));
    }
    let (input, size): (Box<dyn Read + Send>, Option<u64>) = if stdin {
        (Box::new(std::io::stdin()), None)
    } else {
        let f = File::open(&a.file)
            .map_err(|e| Error::Other(format!("cannot open {}: {e}", a.file.display())))?;
        let size = f.metadata().ok().map(|m| m.len());
        (
            Box::new(std::io::BufReader::with_capacity(1 << 16, f)),
            size,
        )
    };
    let delimiter = a.delimiter.map(|d| match d {
        Delimiter::Comma => b',',
        Delimiter::Semicolon => b';',
        Delimiter::Tab => b'\t',
    });
    let defaults = Defaults {
        source: a.source.clone(),
        tags: a.tags.clone(),
    };
    let reader = LeadReader::new(input, a.encoding, delimiter, &map, defaults)?;
    let encoding = reader.encoding.to_string();
    let custom_names: Vec<String> = reader
        .targets
        .iter()
        .filter_map(|t| match t {
            crate::domain::columns::Target::Custom(n) => Some(n.clone()),
            _ => None,
        })
        .collect();
    // A named rejects file is checked now, before any work (and never the database); the
    // default one beside the input takes the first free name, so a re-run never
    // overwrites the last run's rejects nor a file someone else put there.
    let (rejects_path, opened) = match (&a.rejects, stdin) {
        (Some(p), _) => {
            let existed = std::fs::symlink_metadata(p).is_ok();
            let f = crate::outfile::create(p, "--rejects", &protect, a.force)?;
            (Some(p.clone()), Some((f, !existed)))
        }
        (None, false) => (
            Some(crate::outfile::unused_name(&PathBuf::from(format!(
                "{}.rejects.csv",
                a.file.display()
            )))),
            None,
        ),
        // Rows read from stdin cannot go next to their file: they go to the current
        // folder, so no rejected row is ever thrown away.
        (None, true) => (
            Some(crate::outfile::unused_name(&PathBuf::from(STDIN_REJECTS))),
            None,
        ),
    };
    // Like the rejects file: a named one may be overwritten with --force; the default one
    // takes the first free name.
    let duplicates_path = match (&a.duplicates, stdin) {
        (Some(p), _) => Some((p.clone(), a.force)),
        (None, false) => Some((
            crate::outfile::unused_name(&PathBuf::from(format!(
                "{}.duplicates.csv",
                a.file.display()
            ))),
            false,
        )),
        (None, true) => None,
    };
    let mut dup_report = duplicates_path.map(|(path, force)| DuplicateReport {
        path,
        writer: None,
        protect: protect.clone(),
        force,
    });
    let mut rejects = rejects_path.clone().map(|path| Rejects {
        path,
        writer: None,
        headers: reader.headers.clone(),
        protect,
        opened,
    });

    // Parsing, decoding and validating run on a second thread, a bounded queue ahead of
    // the writer: two cores, and memory that does not grow with the file.
    let bytes_read = Arc::new(AtomicU64::new(0));
    let (send, recv) = mpsc::sync_channel::<Vec<Row>>(4);
    let progress = Arc::clone(&bytes_read);
    let parser = std::thread::spawn(move || -> Result<String> {
        let mut reader = reader;
        let mut batch = Vec::with_capacity(BATCH);
        let mut batch_bytes = 0;
        while let Some(row) = reader.next() {
            batch.push(row?);
            batch_bytes += reader.last_record_bytes();
            if batch.len() == BATCH || batch_bytes >= BATCH_BYTES {
                batch_bytes = 0;
                progress.store(reader.bytes_read(), Ordering::Relaxed);
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

    let store = ctx.store()?;
    // Bulk work: a bigger page cache for this connection only (bounded, 48 MiB, so the
    // whole import stays under ~200 MB whatever the file size).
    store.bulk_cache_mib(48)?;
    // A dry run is rolled back: it may run under POOL_NOW like any read.
    let tx = if a.dry_run {
        store.begin_unchecked()?
    } else {
        store.begin()?
    };
    let place = match (&a.owner, &a.pool) {
        (Some(o), _) => {
            let u = users::get(&tx, o)?;
            if u.id != me.id && !crate::domain::roles::allowed(me.role, Action::Assign) {
                return Err(Error::PermissionDenied {
                    role: me.role.as_str().into(),
                    action: "import customers for another owner".into(),
                });
            }
            if me.role == Role::Manager && u.team_id != me.team_id {
                return Err(Error::Forbidden(format!("'{o}' is not in your team")));
            }
            Placement {
                pool_id: 1,
                owner_id: Some(u.id),
            }
        }
        (None, Some(p)) => {
            let pool_id = pool::pool_id(&tx, p)?;
            if me.role != Role::Admin && !pool::visible(&tx, pool_id, me.team_id)? {
                return Err(Error::PoolNotVisible {
                    pool: p.clone(),
                    team: me.team.clone(),
                });
            }
            Placement {
                pool_id,
                owner_id: None,
            }
        }
        (None, None) => Placement {
            pool_id: 1,
            owner_id: None,
        },
    };
    // A member importing for themselves takes customers: no copies of existing ones
    // (a copy would dodge a cooldown), and the pool's limits are checked at the end.
    let takes_for_self = place.owner_id == Some(me.id) && me.role == Role::Member;
    if takes_for_self && a.on_duplicate == OnDuplicate::Create {
        return Err(Error::invalid(
            "--on-duplicate",
            "a member importing customers for themselves cannot create copies of existing customers; use skip or merge, or import into a pool",
        ));
    }
    let max_before = customers::max_id(&tx)?;
    let known = customers::known_custom_fields(&tx)?;
    let new = custom_names.iter().filter(|n| !known.contains(n)).count();
    if known.len() + new > crate::import::MAX_CUSTOM_FIELDS {
        return Err(Error::invalid_hint(
            "header",
            format!(
                "the database has {} custom fields and this file would add {new} more (at most {} in all)",
                known.len(),
                crate::import::MAX_CUSTOM_FIELDS
            ),
            "map the file's extra columns to existing fields with --map \"COLUMN=FIELD\", or \"COLUMN=ignore\"",
        ));
    }
    // The dedupe model decides which rows are duplicates (fitted on this database).
    let model = super::dedupe::model_for(&tx)?;
    // The line each customer added by this import came from (index: id - max_before - 1).
    let mut line_of: Vec<u32> = Vec::new();
    customers::remember_custom_fields(&tx, &custom_names)?;
    // Bulk mode when the file is large next to the table (about 150 bytes a row): the
    // indexes are rebuilt once at the end instead of updated row by row.
    let existing = customers::live_count(&tx)?;
    let expected_rows = size.map(|s| s / 150).unwrap_or(0) as i64;
    let bulk = expected_rows >= 10_000 && expected_rows > existing;
    let mut keymap = KeyMap::default();
    let suspended = if bulk {
        // Sized once: growing a map of millions of keys would briefly hold two copies.
        // The estimate trusts ~150 bytes a row only up to a million rows: a file of a few
        // huge rows must not reserve gigabytes (a bigger file grows the map as it goes).
        keymap
            .map
            .reserve(((expected_rows.min(BULK_RESERVE_ROWS) + existing) * 3) as usize);
        customers::for_each_keys(&tx, |id, p, e, n, c| {
            keymap.add(
                id,
                &row_keys(p.as_deref(), e.as_deref(), n.as_deref(), c.as_deref()),
            );
        })?;
        customers::suspend_indexes(&tx)?
    } else {
        Vec::new()
    };
    // Bulk mode writes new customers in multi-row statements (explicit ids). Owner
    // imports keep the row-by-row path: each row also gets an ownership event.
    let mut batch_insert = if bulk && place.owner_id.is_none() {
        Some(customers::BulkInsert::new(&tx, &place, Some(me.id), now)?)
    } else {
        None
    };
    let mut s = Summary {
        file: a.file.display().to_string(),
        encoding,
        dry_run: a.dry_run,
        ..Default::default()
    };
    let bar = if std::io::stderr().is_terminal() && !out.quiet {
        let b = match size {
            Some(n) => indicatif::ProgressBar::new(n),
            None => indicatif::ProgressBar::new_spinner(),
        };
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg} ({eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };
    for batch in recv {
        for row in batch {
            s.rows += 1;
            match row {
                Row::Reject(r) => {
                    s.rejected += 1;
                    *s.rejected_by_reason.entry(r.kind.clone()).or_default() += 1;
                    if let Some(rj) = rejects.as_mut() {
                        rj.write(&r)?;
                    }
                }
                Row::Lead(lead) => {
                    // A new customer has no deal: a member imports leads (the whole
                    // import is rolled back, as for any error).
                    if let Some(stage) = lead.stage {
                        crate::domain::rules::check_stage_change(me.role, stage.as_str(), false)
                            .map_err(|e| {
                                Error::Forbidden(format!(
                                    "line {}: {}",
                                    lead.line,
                                    match e {
                                        Error::Forbidden(m) => m,
                                        other => other.to_string(),
                                    }
                                ))
                            })?;
                    }
                    let dup = match (a.on_duplicate, bulk) {
                        (OnDuplicate::Create, _) => None,
                        (_, true) => {
                            let mut found = Vec::new();
                            for id in keymap.candidates(&lead.fields) {
                                let queued = batch_insert
                                    .as_ref()
                                    .and_then(|b| b.pending_fields(id))
                                    .map(|f| record_of(id, f));
                                match queued {
                                    Some(r) => found.push(r),
                                    None => found.extend(crate::store::dedupe::record(&tx, id)?),
                                }
                            }
                            best_match(&model, &lead.fields, &found)
                        }
                        (_, false) => best_match(
                            &model,
                            &lead.fields,
                            &crate::store::dedupe::neighbours(&tx, &lead.fields.keys, 20)?,
                        ),
                    };
                    match dup {
                        Some(d) => {
                            let existing = d.id;
                            let matched_line = usize::try_from(existing - max_before - 1)
                                .ok()
                                .and_then(|i| line_of.get(i))
                                .map(|l| u64::from(*l));
                            if existing > max_before {
                                s.duplicates_in_file += 1;
                            } else {
                                s.duplicates_in_database += 1;
                            }
                            if let Some(r) = dup_report.as_mut() {
                                let action = if a.on_duplicate == OnDuplicate::Merge {
                                    "merged"
                                } else {
                                    "skipped"
                                };
                                r.write(lead.line, action, &d, matched_line)?;
                            }
                            if a.on_duplicate == OnDuplicate::Merge {
                                // The customer may still be queued: write the queue first.
                                if let Some(b) = batch_insert.as_mut() {
                                    b.flush()?;
                                }
                                let target = customers::get(&tx, existing)?;
                                // Only into customers the importer may edit (the one scope
                                // rule); the rest stay skipped duplicates.
                                if super::customer::check_scope(&tx, &me, &target).is_err() {
                                    s.merge_refused += 1;
                                } else if let Some(f) =
                                    merge_into(&tx, &target, &lead, &me.login, now)?
                                {
                                    s.merged += 1;
                                    let k = &f.keys;
                                    keymap.add(
                                        existing,
                                        &row_keys(
                                            k.phone.as_deref(),
                                            k.email.as_deref(),
                                            k.name.as_deref(),
                                            k.company.as_deref(),
                                        ),
                                    );
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
                            let id = match batch_insert.as_mut() {
                                Some(b) => {
                                    let k = &lead.fields.keys;
                                    let keys = row_keys(
                                        k.phone.as_deref(),
                                        k.email.as_deref(),
                                        k.name.as_deref(),
                                        k.company.as_deref(),
                                    );
                                    let id = b.add(lead.fields, stage, custom)?;
                                    keymap.add(id, &keys);
                                    id
                                }
                                None => customers::insert(
                                    &tx,
                                    &lead.fields,
                                    stage,
                                    custom.as_deref(),
                                    &place,
                                    Some(me.id),
                                    now,
                                )?,
                            };
                            if let Some(owner) = place.owner_id {
                                pool::record_event(
                                    &tx,
                                    id,
                                    "import",
                                    None,
                                    Some(owner),
                                    me.id,
                                    place.pool_id,
                                    None,
                                    now,
                                )?;
                            }
                            if let Ok(i) = usize::try_from(id - max_before - 1) {
                                if line_of.len() <= i {
                                    line_of.resize(i + 1, 0);
                                }
                                line_of[i] = u32::try_from(lead.line).unwrap_or(u32::MAX);
                            }
                            s.imported += 1;
                            s.first_id.get_or_insert(id);
                            s.last_id = Some(id);
                        }
                    }
                }
            }
        }
        if let Some(b) = &bar {
            b.set_position(bytes_read.load(Ordering::Relaxed));
            b.set_message(format!("{} rows", s.rows));
        }
    }
    if let Some(b) = batch_insert.as_mut() {
        b.flush()?;
    }
    drop(batch_insert);
    s.sha256 = parser
        .join()
        .map_err(|_| Error::Other("the CSV reader thread panicked".into()))??;
    if let Some(b) = &bar {
        b.set_message("building indexes");
    }
    customers::restore_indexes(&tx, &suspended)?;
    if let Some(owner) = place.owner_id {
        // Every path that gives someone customers keeps the pool's limits.
        let rules = pool::rules(&tx, place.pool_id)?;
        if rules.max_owned > 0 {
            let owned = pool::owned_count(&tx, owner, place.pool_id, rules.count_won)?;
            if owned > rules.max_owned {
                return Err(Error::LimitReached {
                    who: users::by_id(&tx, owner)?.login,
                    n: owned,
                    max: rules.max_owned,
                    pool: "public".into(),
                });
            }
        }
        if takes_for_self && rules.daily_claims > 0 {
            let today = pool::claims_since(&tx, me.id, crate::domain::rules::day_start(now))?;
            if today + s.imported as i64 > rules.daily_claims {
                return Err(Error::DailyCap {
                    n: today + s.imported as i64,
                    max: rules.daily_claims,
                });
            }
        }
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    if let Some(rj) = rejects.as_mut() {
        if let Some(w) = rj.writer.as_mut() {
            w.flush()?;
            s.rejects_file = Some(rj.path.display().to_string());
        } else if let Some((_, true)) = rj.opened.take() {
            // Nothing was rejected: the empty file pool created for --rejects goes again.
            let _ = std::fs::remove_file(&rj.path);
        }
    }
    if let Some(r) = dup_report.as_mut() {
        if let Some(w) = r.writer.as_mut() {
            w.flush()?;
            s.duplicates_file = Some(r.path.display().to_string());
        }
    }
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
        "on_duplicate": a.on_duplicate.to_possible_value().map(|v| v.get_name().to_string()),
    });
    let record = |action| audit::Record {
        at: now,
        actor: &me.login,
        action,
        entity: "import",
        entity_id: None,
        before: None,
        after: Some(after.clone()),
    };
    if a.dry_run {
        tx.rollback()?;
        // A dry run writes nothing but is recorded: its duplicate counts say which phones
        // and e-mails exist, so a series of them is visible in the audit log.
        let tx = ctx.store()?.begin_unchecked()?;
        audit::append(&tx, record("import_dry_run"))?;
        tx.commit()?;
    } else {
        audit::append(&tx, record("import"))?;
        tx.commit()?;
    }
    s.seconds = (started.elapsed().as_secs_f64() * 100.0).round() / 100.0;
    let verb = if a.dry_run {
        "would import"
    } else {
        "imported"
    };
    if s.merge_refused > 0 {
        out.warn(format!(
            "{} duplicate(s) of customers you may not edit were skipped, not merged",
            s.merge_refused
        ));
    }
    out.status(format!(
        "{verb} {} of {} rows in {:.2} s; {} duplicate(s){}, {} rejected{}",
        s.imported,
        s.rows,
        s.seconds,
        s.duplicates_in_file + s.duplicates_in_database,
        s.duplicates_file
            .as_deref()
            .map(|f| format!(" (see {f})"))
            .unwrap_or_default(),
        s.rejected,
        s.rejects_file
            .as_deref()
            .map(|f| format!(" (see {f})"))
            .unwrap_or_default()
    ));
    out.record(&s)
}

/// Fills the existing customer's empty fields (and adds tags and custom fields) from a
/// duplicate row; never overwrites a value. Returns whether anything changed.
fn merge_into(
    tx: &rusqlite::Connection,
    c: &crate::store::Customer,
    lead: &Lead,
    actor: &str,
    now: i64,
) -> Result<Option<crate::domain::customer::CustomerFields>> {
    let id = c.id;
    let mut f = crate::domain::customer::validate(
        &crate::domain::customer::CustomerInput {
            name: c.name.clone(),
            company: c.company.clone(),
            phone: c.phone.clone(),
            email: c.email.clone(),
            city: c.city.clone(),
            address: c.address.clone(),
            source: c.source.clone(),
            tags: Some(c.tags.clone()),
            notes: c.notes.clone(),
        },
        false,
    )?;
    let before = f.clone();
    let n = &lead.fields;
    for (slot, new) in [
        (&mut f.name, &n.name),
        (&mut f.company, &n.company),
        (&mut f.phone, &n.phone),
        (&mut f.email, &n.email),
        (&mut f.city, &n.city),
        (&mut f.address, &n.address),
        (&mut f.source, &n.source),
        (&mut f.notes, &n.notes),
    ] {
        if slot.is_none() {
            slot.clone_from(new);
        }
    }
    for t in &n.tags {
        if !f.tags.contains(t) {
            f.tags.push(t.clone());
        }
    }
    let mut custom: Map<String, Value> = c
        .custom
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    let custom_before = custom.len();
    let mut custom_added = Vec::new();
    for (k, v) in &lead.custom {
        if !custom.contains_key(k) {
            custom.insert(k.clone(), v.clone());
            custom_added.push(k.clone());
        }
    }
    if f == before && custom.len() == custom_before {
        return Ok(None);
    }
    // Recompute keys for the filled-in values.
    let input = crate::domain::customer::CustomerInput {
        name: f.name.clone(),
        company: f.company.clone(),
        phone: f.phone.clone(),
        email: f.email.clone(),
        city: f.city.clone(),
        address: f.address.clone(),
        source: f.source.clone(),
        tags: Some(f.tags.join(",")),
        notes: f.notes.clone(),
    };
    let f = crate::domain::customer::validate(&input, false)?;
    customers::update_fields(tx, id, &f, &c.stage, now)?;
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
            changed_before.insert(k.into(), super::customer::audit_value(k, o));
            changed_after.insert(k.into(), super::customer::audit_value(k, n));
        }
    }
    if before.tags != f.tags {
        changed_before.insert("tags".into(), json!(before.tags));
        changed_after.insert("tags".into(), json!(f.tags));
    }
    if custom.len() != custom_before {
        changed_after.insert("custom_fields_added".into(), json!(custom_added));
        customers::set_custom(tx, id, &Value::Object(custom).to_string())?;
    }
    audit::append(
        tx,
        audit::Record {
            at: now,
            actor,
            action: "import_merge",
            entity: "customer",
            entity_id: Some(id),
            before: Some(Value::Object(changed_before)),
            after: Some(Value::Object(changed_after)),
        },
    )?;
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
