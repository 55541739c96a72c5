//! `pool import FILE|-`: the arguments, the input (CSV, or an xlsx workbook) and the
//! report files (rejects, duplicates), the progress bar and the summary. The loader is
//! `app::import`.
use std::fs::File;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::Ctx;
use crate::app::import::{self as app, Duplicate, Options, Sink};
use crate::domain::roles::Action;
use crate::encode::{EncodingWriter, TextEncoding};
use crate::error::{Error, Result};
use crate::import::decode::Charset;
use crate::import::{Defaults, LeadReader, Reject};

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
    /// CSV file, or - for stdin, or an Excel workbook (.xlsx: the first sheet, or
    /// --sheet; its first row with text is the header)
    pub file: PathBuf,
    /// Map a column to a field: "Mobile=phone" (field may also be custom or ignore); repeatable
    #[arg(long, value_name = "COLUMN=FIELD")]
    pub map: Vec<String>,
    /// Text encoding of a CSV file
    #[arg(long, value_enum, default_value_t = Charset::Auto)]
    pub encoding: Charset,
    /// Column separator (default: detected from the header)
    #[arg(long, value_enum)]
    pub delimiter: Option<Delimiter>,
    /// The sheet of an .xlsx workbook to read (default: the first)
    #[arg(long, value_name = "NAME")]
    pub sheet: Option<String>,
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
    /// the current folder); never the database. It is a CSV in the input's encoding (GBK
    /// in, GBK out; a BOM if the input had one); for an .xlsx input, a UTF-8 CSV with a
    /// BOM, which Excel opens
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
    /// Then deal the imported leads out by the pool's allocation rule (pool rules set
    /// --allocate …); managers and admins
    #[arg(long, conflicts_with_all = ["owner", "dry_run"])]
    pub allocate: bool,
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
    writer: Option<csv::Writer<EncodingWriter<File>>>,
    headers: Vec<String>,
    /// The input's encoding, which the rejects file is written in.
    text: TextEncoding,
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
            let mut w = csv::WriterBuilder::new()
                .flexible(true)
                .from_writer(EncodingWriter::new(file, self.text));
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
    let workbook = !stdin && crate::import::sheet::is_workbook(&a.file);
    if !workbook && a.sheet.is_some() {
        return Err(Error::Usage(
            "--sheet is for .xlsx workbooks; this input is read as CSV".into(),
        ));
    }
    if workbook && (a.encoding != Charset::Auto || a.delimiter.is_some()) {
        return Err(Error::Usage(
            "--encoding and --delimiter are for CSV files, not .xlsx workbooks".into(),
        ));
    }
    let defaults = Defaults {
        source: a.source.clone(),
        tags: a.tags.clone(),
    };
    let (reader, size) = if workbook {
        let reader: Input =
            LeadReader::from_workbook(&a.file, a.sheet.as_deref(), &map, defaults.clone())?;
        (reader, None)
    } else {
        open_csv(a, stdin, &map, defaults.clone())?
    };
    // On a server a member's import is refused up front when its phones and e-mails
    // exceed what is left of the daily lookup quota (a file is read twice for that;
    // stdin cannot be, and fails at the batch that crosses the quota).
    if !stdin {
        app::check_lookup_quota(ctx.store()?, &me, &mut || {
            if workbook {
                app::keys_in::<Box<dyn Read + Send>>(LeadReader::from_workbook(
                    &a.file,
                    a.sheet.as_deref(),
                    &map,
                    defaults.clone(),
                )?)
            } else {
                app::keys_in(open_csv(a, false, &map, defaults.clone())?.0)
            }
        })?;
    }
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
    let dup_report = duplicates_path.map(|(path, force)| DuplicateReport {
        path,
        writer: None,
        protect: protect.clone(),
        force,
    });
    let rejects = rejects_path.clone().map(|path| Rejects {
        path,
        writer: None,
        headers: reader.headers.clone(),
        text: reader.text.unwrap_or(TextEncoding::UTF8_BOM),
        protect,
        opened,
    });

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
    let o = Options {
        file: a.file.display().to_string(),
        size,
        rows_hint: reader.rows_hint,
        on_duplicate: match a.on_duplicate {
            OnDuplicate::Skip => app::OnDuplicate::Skip,
            OnDuplicate::Merge => app::OnDuplicate::Merge,
            OnDuplicate::Create => app::OnDuplicate::Create,
        },
        pool: a.pool.clone(),
        owner: a.owner.clone(),
        dry_run: a.dry_run,
    };
    let mut sink = Reports {
        rejects,
        duplicates: dup_report,
        bar,
    };
    if a.allocate {
        ctx.require(Action::Assign)?;
    }
    let s = app::run(ctx.store()?, &me, reader, &o, &mut sink, now)?;
    let allocated = match (a.allocate, s.first_id, s.last_id) {
        (true, Some(first), Some(last)) => {
            let req = crate::app::allocate::Request {
                pool: Some(a.pool.clone().unwrap_or_else(|| "public".into())),
                limit: None,
                ids: Some((first, last)),
                dry_run: false,
            };
            Some(crate::app::allocate::allocate(
                ctx.store()?,
                &me,
                &req,
                now,
            )?)
        }
        (true, _, _) => Some(Vec::new()),
        _ => None,
    };
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
    if s.warned > 0 {
        out.status(format!(
            "{} row(s) imported without an invalid optional field (warnings above)",
            s.warned
        ));
    }
    match allocated {
        Some(list) => {
            out.status(format!("allocated {} lead(s)", list.len()));
            let mut v = serde_json::to_value(&s)?;
            v["allocated"] = serde_json::to_value(&list)?;
            out.record(&v)
        }
        None => out.record(&s),
    }
}

/// The reader of any input: a CSV file, stdin, or a workbook.
type Input = LeadReader<Box<dyn Read + Send>>;

/// The CSV input (a file or stdin) and its size, read by a `LeadReader`.
fn open_csv(
    a: &ImportArgs,
    stdin: bool,
    map: &[(String, String)],
    defaults: Defaults,
) -> Result<(Input, Option<u64>)> {
    let (input, size): (Box<dyn Read + Send>, Option<u64>) = if stdin {
        (Box::new(std::io::stdin()), None)
    } else {
        let f = File::open(&a.file).map_err(|e| match e.kind() {
            // Like every other missing thing: exit 3.
            std::io::ErrorKind::NotFound => Error::not_found("file", a.file.display()),
            _ => Error::Other(format!("cannot open {}: {e}", a.file.display())),
        })?;
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
    Ok((
        LeadReader::new(input, a.encoding, delimiter, map, defaults)?,
        size,
    ))
}

/// The import's reports: the rejects and duplicates files and the progress bar.
struct Reports {
    rejects: Option<Rejects>,
    duplicates: Option<DuplicateReport>,
    bar: Option<indicatif::ProgressBar>,
}

impl Sink for Reports {
    fn warning(&mut self, line: u64, message: &str) -> Result<()> {
        // Listed on stderr, beside the progress (a warning never stops the import).
        if let Some(b) = &self.bar {
            b.suspend(|| crate::say!("warning: line {line}: {message}"));
        } else {
            crate::say!("warning: line {line}: {message}");
        }
        Ok(())
    }

    fn reject(&mut self, r: &Reject) -> Result<()> {
        match self.rejects.as_mut() {
            Some(rj) => rj.write(r),
            None => Ok(()),
        }
    }

    fn duplicate(
        &mut self,
        line: u64,
        action: &str,
        d: &Duplicate,
        matched_line: Option<u64>,
    ) -> Result<()> {
        match self.duplicates.as_mut() {
            Some(r) => r.write(line, action, d, matched_line),
            None => Ok(()),
        }
    }

    fn progress(&mut self, bytes: u64, rows: u64) {
        if let Some(b) = &self.bar {
            b.set_position(bytes);
            b.set_message(format!("{rows} rows"));
        }
    }

    fn building_indexes(&mut self) {
        if let Some(b) = &self.bar {
            b.set_message("building indexes");
        }
    }

    fn finish(&mut self) -> Result<(Option<String>, Option<String>)> {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        let mut files = (None, None);
        if let Some(rj) = self.rejects.as_mut() {
            if let Some(w) = rj.writer.as_mut() {
                w.flush()?;
                files.0 = Some(rj.path.display().to_string());
            } else if let Some((_, true)) = rj.opened.take() {
                // Nothing was rejected: the empty file pool created for --rejects goes again.
                let _ = std::fs::remove_file(&rj.path);
            }
        }
        if let Some(r) = self.duplicates.as_mut() {
            if let Some(w) = r.writer.as_mut() {
                w.flush()?;
                files.1 = Some(r.path.display().to_string());
            }
        }
        Ok(files)
    }
}
