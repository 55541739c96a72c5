//! `pool export`: customers out as CSV (UTF-8, with a BOM for Excel, or GBK), JSON, JSON
//! lines or an Excel workbook, masked by role, with CSV cells a spreadsheet would run as a
//! formula neutralised. Every export is audit-logged (by `app::export`, before the first
//! row is written).
use std::cell::Cell;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::customer::{filter, FilterArgs};
use super::output::Format;
use super::sheet::RecordSheet;
use super::view::{ExportView, COLUMNS};
use super::Ctx;
use crate::app::contact::{view as contact_view, ContactView};
use crate::app::export::{self as app, Export, Sink};
use crate::domain::customer::Customer;
use crate::domain::roles::Action;
use crate::encode::{EncodingWriter, TextEncoding};
use crate::error::{Error, Result};
use crate::store::ops::contacts::Contact;

pub use super::view::guard;

/// The text encoding of a CSV export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CsvEncoding {
    /// UTF-8 (add --bom for Excel)
    #[value(name = "utf-8", alias = "utf8")]
    Utf8,
    /// GBK (code page 936), what Chinese Excel opens without asking; a character GBK
    /// cannot hold (a rare name character such as 𠮷) stops the export with an error
    /// naming the customer and the column
    Gbk,
    /// GB18030: GBK's bytes for every GBK character, and every other character too
    Gb18030,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to this file instead of stdout (a new file; never the database or any
    /// SQLite file). A FILE ending in .xlsx gets an Excel workbook unless --format says
    /// otherwise
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Overwrite FILE if it exists (still never a database)
    #[arg(long, requires = "output")]
    pub force: bool,
    #[command(flatten)]
    pub filters: FilterArgs,
    /// Export phone, e-mail and address unmasked (managers and admins; audit-logged)
    #[arg(long)]
    pub unmasked: bool,
    /// Start the CSV with a UTF-8 byte-order mark, so Excel shows its Chinese text
    /// correctly when the file is double-clicked (CSV in UTF-8 only)
    #[arg(long)]
    pub bom: bool,
    /// Text encoding of a CSV export. For Excel, --bom (UTF-8) or gbk; --format xlsx
    /// (with -o FILE.xlsx) needs neither: text cells, phones kept as written, header
    /// row frozen
    #[arg(long, value_enum, default_value_t = CsvEncoding::Utf8, value_name = "ENCODING")]
    pub encoding: CsvEncoding,
}

/// The open output and how customers are written to it.
enum Writer {
    Csv(Box<csv::Writer<BufWriter<Box<dyn Write>>>>, Vec<String>),
    Json(BufWriter<Box<dyn Write>>, u64),
    Jsonl(BufWriter<Box<dyn Write>>),
    /// The workbook is assembled (rows in a temporary file) and written out at the end.
    Xlsx(Option<Box<RecordSheet>>, Option<Box<dyn Write + Send>>),
}

struct FileSink {
    out: Writer,
    view: ExportView,
    keys: Vec<String>,
    /// The CSV's encoding when it is not UTF-8: every cell is checked before it is
    /// written, so an error names the customer and the column.
    strict: Option<TextEncoding>,
}

/// The header row: the fixed columns, then `custom.NAME` for each custom field.
fn headers(keys: &[String]) -> Vec<String> {
    let mut head: Vec<String> = COLUMNS.iter().map(|s| s.to_string()).collect();
    head.extend(keys.iter().map(|k| format!("custom.{k}")));
    head
}

/// Refuses a cell the CSV's encoding cannot hold, naming where it is.
fn check_cells(enc: &TextEncoding, what: &str, head: &[String], cells: &[String]) -> Result<()> {
    for (i, cell) in cells.iter().enumerate() {
        if let Some(c) = enc.unencodable(cell) {
            return Err(Error::invalid_hint(
                "export",
                format!(
                    "{what}, column '{}': '{c}' (U+{:04X}) cannot be written in {}",
                    head.get(i).map(String::as_str).unwrap_or("?"),
                    c as u32,
                    enc.label()
                ),
                "export with --encoding gb18030, or as UTF-8 with --bom, or as --format xlsx",
            ));
        }
    }
    Ok(())
}

impl Sink for FileSink {
    fn begin(&mut self) -> Result<()> {
        match &mut self.out {
            Writer::Csv(c, _) => {
                let head: Vec<String> = headers(&self.keys)
                    .iter()
                    .map(|h| guard(h).into_owned())
                    .collect();
                if let Some(enc) = &self.strict {
                    check_cells(enc, "the header row", &head, &head)?;
                }
                c.write_record(&head)?;
            }
            Writer::Json(w, _) => w.write_all(b"[")?,
            Writer::Jsonl(_) => {}
            Writer::Xlsx(sheet, _) => {
                *sheet = Some(Box::new(RecordSheet::new(
                    "customers",
                    &headers(&self.keys),
                )?));
            }
        }
        Ok(())
    }

    fn customer(&mut self, c: Customer, contacts: Vec<Contact>) -> Result<()> {
        match &mut self.out {
            Writer::Csv(w, cells) => {
                self.view.csv_cells(&c, &self.keys, cells);
                if let Some(enc) = &self.strict {
                    check_cells(
                        enc,
                        &format!("customer {}", c.id),
                        &headers(&self.keys),
                        cells,
                    )?;
                }
                w.write_record(&*cells)?;
            }
            Writer::Xlsx(sheet, _) => {
                let rec = self.view.record(&c, &self.keys);
                if let Some(sheet) = sheet.as_mut() {
                    sheet.record(&format!("customer {}", c.id), &rec)?;
                }
            }
            Writer::Json(w, n) => {
                if *n > 0 {
                    w.write_all(b",")?;
                }
                w.write_all(b"\n  ")?;
                serde_json::to_writer(
                    &mut *w,
                    &json_record(&self.view, &self.keys, &c, &contacts),
                )?;
                *n += 1;
            }
            Writer::Jsonl(w) => {
                serde_json::to_writer(
                    &mut *w,
                    &json_record(&self.view, &self.keys, &c, &contacts),
                )?;
                w.write_all(b"\n")?;
            }
        }
        Ok(())
    }
}

/// A JSON record: the customer's fields and its contact people, masked alike. CSV and
/// xlsx leave contacts out: one row per customer, and a re-import would take an extra
/// column for a custom field.
fn json_record(
    view: &ExportView,
    keys: &[String],
    c: &Customer,
    contacts: &[Contact],
) -> serde_json::Map<String, serde_json::Value> {
    let mut rec = view.record(c, keys);
    let reveal = view.reveals(c);
    let list: Vec<ContactView> = contacts.iter().map(|k| contact_view(k, reveal)).collect();
    rec.insert("contacts".into(), serde_json::json!(list));
    rec
}

impl FileSink {
    fn finish(self) -> Result<()> {
        let mut w = match self.out {
            Writer::Csv(c, _) => c.into_inner().map_err(|e| e.into_error())?,
            Writer::Json(mut w, _) => {
                w.write_all(b"\n]\n")?;
                w
            }
            Writer::Jsonl(w) => w,
            Writer::Xlsx(sheet, out) => {
                if let (Some(sheet), Some(out)) = (sheet, out) {
                    let mut out = BufWriter::with_capacity(1 << 16, out);
                    sheet.finish(&mut out)?;
                    out.flush()?;
                }
                return Ok(());
            }
        };
        w.flush()?;
        Ok(())
    }
}

/// Whether a file name asks for a workbook.
fn is_xlsx(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"))
}

pub fn run(ctx: &mut Ctx, a: &ExportArgs) -> Result<()> {
    let me = ctx.require(Action::Export)?;
    if a.unmasked {
        ctx.require(Action::ExportUnmasked)?;
    }
    let out = ctx.out;
    let format = match out.format {
        Format::Table if a.output.as_deref().is_some_and(is_xlsx) => Format::Xlsx,
        Format::Table => Format::Csv,
        f => f,
    };
    let text = match (a.encoding, a.bom) {
        (CsvEncoding::Utf8, false) => None,
        (CsvEncoding::Utf8, true) => Some(TextEncoding::UTF8_BOM),
        (_, true) => {
            return Err(Error::Usage(
                "--bom is for UTF-8 CSV; GBK and GB18030 files have no byte-order mark".into(),
            ))
        }
        (CsvEncoding::Gbk, false) => Some(TextEncoding::gbk()),
        (CsvEncoding::Gb18030, false) => Some(TextEncoding::gb18030()),
    };
    if text.is_some() && format != Format::Csv {
        return Err(Error::Usage(
            "--bom and --encoding are for CSV exports (JSON is UTF-8; a workbook needs neither)"
                .into(),
        ));
    }
    if format == Format::Xlsx && a.output.is_none() && std::io::stdout().is_terminal() {
        return Err(Error::Usage(
            "an Excel workbook is binary: pass --output FILE.xlsx (or redirect stdout to a file)"
                .into(),
        ));
    }
    let now = ctx.now()?;
    let req = Export {
        query: filter(&a.filters)?,
        unmasked: a.unmasked,
        format: clap::ValueEnum::to_possible_value(&format).map(|v| v.get_name().to_string()),
        file: a.output.as_ref().map(|p| p.display().to_string()),
    };
    let protect = crate::outfile::Protected::database(&ctx.db_path()?);
    let view = ExportView::new(&me, a.unmasked);
    // Set once the output file is pool's to write: a failed export removes it again.
    let created = Cell::new(false);
    let open = |keys: &[String]| -> Result<FileSink> {
        let file = match &a.output {
            Some(p) => {
                let f = crate::outfile::create(p, "--output", &protect, a.force)?;
                created.set(true);
                Some(f)
            }
            None => None,
        };
        if format == Format::Xlsx {
            let out: Box<dyn Write + Send> = match file {
                Some(f) => Box::new(f),
                None => Box::new(std::io::stdout()),
            };
            return Ok(FileSink {
                out: Writer::Xlsx(None, Some(out)),
                view,
                keys: keys.to_vec(),
                strict: None,
            });
        }
        let sink: Box<dyn Write> = match (file, text) {
            (Some(f), Some(enc)) => Box::new(EncodingWriter::new(f, enc)),
            (Some(f), None) => Box::new(f),
            (None, Some(enc)) => Box::new(EncodingWriter::new(std::io::stdout().lock(), enc)),
            (None, None) => Box::new(std::io::stdout().lock()),
        };
        let w = BufWriter::with_capacity(1 << 16, sink);
        let out = match format {
            Format::Csv | Format::Table => Writer::Csv(
                Box::new(csv::Writer::from_writer(w)),
                Vec::with_capacity(COLUMNS.len() + keys.len()),
            ),
            Format::Json => Writer::Json(w, 0),
            Format::Jsonl => Writer::Jsonl(w),
            // Opened above.
            Format::Xlsx => return Err(Error::Other("workbook opened as text".into())),
        };
        Ok(FileSink {
            out,
            view,
            keys: keys.to_vec(),
            strict: text.filter(|t| t.encoding != encoding_rs::UTF_8),
        })
    };
    let done = app::export(ctx.store()?, &me, &req, now, open).and_then(|(sink, n)| {
        sink.finish()?;
        Ok(n)
    });
    let n = match done {
        Ok(n) => n,
        Err(e) => {
            // A cut-off file is worse than none: it would be taken for the whole export.
            if let (true, Some(p)) = (created.get(), &a.output) {
                let _ = std::fs::remove_file(p);
            }
            return Err(e);
        }
    };
    out.status(format!(
        "exported {n} customer(s){}{}",
        if a.unmasked {
            " unmasked"
        } else {
            " (phone, e-mail and address masked; --unmasked for managers)"
        },
        a.output
            .as_ref()
            .map(|p| format!(" to {}", p.display()))
            .unwrap_or_default()
    ));
    Ok(())
}
