//! `pool export`: customers out as CSV, JSON or JSON lines, masked by role, with cells a
//! spreadsheet would run as a formula neutralised. Every export is audit-logged (by
//! `app::export`, before the first row is written).
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::Args;

use super::customer::{filter, FilterArgs};
use super::output::Format;
use super::view::{ExportView, COLUMNS};
use super::Ctx;
use crate::app::export::{self as app, Export, Sink};
use crate::domain::customer::Customer;
use crate::domain::roles::Action;
use crate::error::Result;

pub use super::view::guard;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to this file instead of stdout (a new file; never the database or any
    /// SQLite file)
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
}

/// The open output and how customers are written to it.
enum Writer {
    Csv(Box<csv::Writer<BufWriter<Box<dyn Write>>>>, Vec<String>),
    Json(BufWriter<Box<dyn Write>>, u64),
    Jsonl(BufWriter<Box<dyn Write>>),
}

struct FileSink {
    out: Writer,
    view: ExportView,
    keys: Vec<String>,
}

impl Sink for FileSink {
    fn begin(&mut self) -> Result<()> {
        match &mut self.out {
            Writer::Csv(c, _) => {
                let mut head: Vec<String> = COLUMNS.iter().map(|s| s.to_string()).collect();
                head.extend(self.keys.iter().map(|k| format!("custom.{k}")));
                c.write_record(head.iter().map(|h| guard(h).into_owned()))?;
            }
            Writer::Json(w, _) => w.write_all(b"[")?,
            Writer::Jsonl(_) => {}
        }
        Ok(())
    }

    fn customer(&mut self, c: Customer) -> Result<()> {
        match &mut self.out {
            Writer::Csv(w, cells) => {
                self.view.csv_cells(&c, &self.keys, cells);
                w.write_record(&*cells)?;
            }
            Writer::Json(w, n) => {
                if *n > 0 {
                    w.write_all(b",")?;
                }
                w.write_all(b"\n  ")?;
                serde_json::to_writer(&mut *w, &self.view.record(&c, &self.keys))?;
                *n += 1;
            }
            Writer::Jsonl(w) => {
                serde_json::to_writer(&mut *w, &self.view.record(&c, &self.keys))?;
                w.write_all(b"\n")?;
            }
        }
        Ok(())
    }
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
        };
        w.flush()?;
        Ok(())
    }
}

pub fn run(ctx: &mut Ctx, a: &ExportArgs) -> Result<()> {
    let me = ctx.require(Action::Export)?;
    if a.unmasked {
        ctx.require(Action::ExportUnmasked)?;
    }
    let now = ctx.now()?;
    let out = ctx.out;
    let format = match out.format {
        Format::Table => Format::Csv,
        f => f,
    };
    let req = Export {
        query: filter(&a.filters)?,
        unmasked: a.unmasked,
        format: clap::ValueEnum::to_possible_value(&format).map(|v| v.get_name().to_string()),
        file: a.output.as_ref().map(|p| p.display().to_string()),
    };
    let protect = crate::outfile::Protected::database(&ctx.db_path()?);
    let view = ExportView::new(&me, a.unmasked);
    let open = |keys: &[String]| -> Result<FileSink> {
        let sink: Box<dyn Write> = match &a.output {
            Some(p) => Box::new(crate::outfile::create(p, "--output", &protect, a.force)?),
            None => Box::new(std::io::stdout().lock()),
        };
        let w = BufWriter::with_capacity(1 << 16, sink);
        let out = match format {
            Format::Csv | Format::Table => Writer::Csv(
                Box::new(csv::Writer::from_writer(w)),
                Vec::with_capacity(COLUMNS.len() + keys.len()),
            ),
            Format::Json => Writer::Json(w, 0),
            Format::Jsonl => Writer::Jsonl(w),
        };
        Ok(FileSink {
            out,
            view,
            keys: keys.to_vec(),
        })
    };
    let (sink, n) = app::export(ctx.store()?, &me, &req, now, open)?;
    sink.finish()?;
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
