//! Excel workbooks (.xlsx) in: one sheet as rows of text cells, read with calamine's
//! streaming cell reader on its own thread (the workbook's shared strings are held, the
//! rows are not), a bounded queue ahead of the importer. Cells of every type become the
//! text a person sees: a phone typed as a number stays `13800138000` (never
//! `1.3800138e10` or `13800138000.0`), a date becomes `2026-12-08`, a formula gives its
//! cached value (it is never evaluated; with no cached value, its text). Row numbers are
//! the ones Excel shows.
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::mpsc;

use calamine::{DataRef, ExcelDateTime, Reader, Xlsx};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// One row of the sheet: its number as Excel shows it, and its cells from column A.
#[derive(Debug, Clone, PartialEq)]
pub struct SheetRow {
    pub line: u64,
    pub cells: Vec<String>,
}

/// Rows queued ahead of the importer.
const QUEUE: usize = 1024;

pub struct SheetRows {
    recv: mpsc::Receiver<std::result::Result<SheetRow, String>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The sheet read.
    pub sheet: String,
    /// Rows the sheet says it spans (from its dimension record; 0 if unknown).
    pub rows_hint: u64,
    pub sha256: String,
    pub size: u64,
}

/// Whether a file is an xlsx workbook: by its name, or by the zip signature it starts
/// with (a CSV never does).
pub fn is_workbook(path: &Path) -> bool {
    let by_name = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx") || e.eq_ignore_ascii_case("xlsm"));
    by_name || {
        let mut head = [0u8; 4];
        File::open(path)
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok()
            && head == *b"PK\x03\x04"
    }
}

fn open_file(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| match e.kind() {
        // Like every other missing thing: exit 3.
        std::io::ErrorKind::NotFound => Error::not_found("file", path.display()),
        _ => Error::Other(format!("cannot open {}: {e}", path.display())),
    })
}

fn hash_file(path: &Path) -> Result<(String, u64)> {
    let mut f = open_file(path)?;
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        size += n as u64;
    }
    Ok((format!("{:x}", sha.finalize()), size))
}

fn unreadable(e: impl std::fmt::Display) -> Error {
    Error::invalid_hint(
        "file",
        format!("is not a readable .xlsx workbook: {e}"),
        "open it in Excel and save it again as .xlsx (Excel Workbook), or as \"CSV UTF-8\"",
    )
}

/// Opens the workbook at `path` and starts reading `sheet` (default: the first one).
pub fn open(path: &Path, sheet: Option<&str>) -> Result<SheetRows> {
    let (sha256, size) = hash_file(path)?;
    let file = open_file(path)?;
    let mut book: Xlsx<BufReader<File>> =
        Xlsx::new(BufReader::with_capacity(1 << 16, file)).map_err(unreadable)?;
    let names = book.sheet_names();
    let name = match sheet {
        Some(want) => names
            .iter()
            .find(|n| n.as_str() == want)
            .or_else(|| names.iter().find(|n| n.eq_ignore_ascii_case(want)))
            .cloned()
            .ok_or_else(|| Error::SheetNotFound {
                name: want.to_string(),
                sheets: names.clone(),
            })?,
        None => names
            .first()
            .cloned()
            .ok_or_else(|| unreadable("it has no sheets"))?,
    };
    // The dimension record is read before the thread starts, for the bulk-mode estimate.
    let rows_hint = {
        let cells = book.worksheet_cells_reader(&name).map_err(unreadable)?;
        let d = cells.dimensions();
        u64::from(d.end.0.saturating_sub(d.start.0)) + 1
    };
    let (send, recv) = mpsc::sync_channel(QUEUE);
    let sheet_name = name.clone();
    let thread = std::thread::spawn(move || read_rows(book, &sheet_name, send));
    Ok(SheetRows {
        recv,
        thread: Some(thread),
        sheet: name,
        rows_hint,
        sha256,
        size,
    })
}

type Sender = mpsc::SyncSender<std::result::Result<SheetRow, String>>;

/// The reading thread: cells in XML order, gathered into rows. Stops when the importer
/// hangs up.
fn read_rows(mut book: Xlsx<BufReader<File>>, name: &str, send: Sender) {
    let mut cells = match book.worksheet_cells_reader(name) {
        Ok(c) => c,
        Err(e) => {
            let _ = send.send(Err(format!("cannot read sheet '{name}': {e}")));
            return;
        }
    };
    let mut row: Option<SheetRow> = None;
    loop {
        let cell = match cells.next_cell_with_formula() {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                let _ = send.send(Err(format!("cannot read sheet '{name}': {e}")));
                return;
            }
        };
        let (r, col) = cell.pos;
        let line = u64::from(r) + 1;
        if row.as_ref().is_some_and(|w| w.line != line) {
            if let Some(done) = row.take() {
                if send.send(Ok(done)).is_err() {
                    return;
                }
            }
        }
        let text = match (cell_text(&cell.value), cell.formula) {
            // A formula with no cached value: its text, not its result.
            (t, Some(f)) if t.is_empty() && !f.is_empty() => {
                // As Excel shows it: without the file format's prefixes of newer
                // functions (`_xlfn.CONCAT` is CONCAT).
                let f = f.replace("_xlfn.", "").replace("_xlws.", "");
                if f.starts_with('=') {
                    f
                } else {
                    format!("={f}")
                }
            }
            (t, _) => t,
        };
        if text.is_empty() {
            continue;
        }
        let w = row.get_or_insert_with(|| SheetRow {
            line,
            cells: Vec::new(),
        });
        let col = col as usize;
        if w.cells.len() <= col {
            w.cells.resize(col + 1, String::new());
        }
        w.cells[col] = text;
    }
    if let Some(done) = row {
        let _ = send.send(Ok(done));
    }
}

/// A cell as the text a person sees in it.
pub fn cell_text(v: &DataRef<'_>) -> String {
    match v {
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::SharedString(s) => s.to_string(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => number_text(*f),
        DataRef::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        DataRef::DateTime(d) => date_text(d),
        DataRef::Error(e) => e.to_string(),
        DataRef::Empty => String::new(),
    }
}

/// A number without float noise: whole numbers (phones, ids, postcodes) with no `.0` and
/// no exponent; others in the shortest form that reads back the same.
pub fn number_text(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e17 {
        format!("{}", f as i64)
    } else {
        // Rust prints f64 without an exponent: 1e20 is "100000000000000000000".
        format!("{f}")
    }
}

/// A date cell as ISO text: `2026-12-08`, `2026-12-08 15:00:00`, or `15:00:00` for a
/// time of day alone.
pub fn date_text(d: &ExcelDateTime) -> String {
    let v = d.as_f64();
    if d.is_duration() {
        let secs = (v * 86_400.0).round() as i64;
        return format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    }
    let (y, mo, day, h, mi, s, _) = d.to_ymd_hms_milli();
    if (0.0..1.0).contains(&v) {
        format!("{h:02}:{mi:02}:{s:02}")
    } else if v.fract() == 0.0 {
        format!("{y:04}-{mo:02}-{day:02}")
    } else {
        format!("{y:04}-{mo:02}-{day:02} {h:02}:{mi:02}:{s:02}")
    }
}

impl SheetRows {
    /// The next row with any text in it.
    pub fn next_row(&mut self) -> Option<Result<SheetRow>> {
        match self.recv.recv() {
            Ok(Ok(row)) => Some(Ok(row)),
            Ok(Err(msg)) => Some(Err(Error::invalid("file", msg))),
            Err(_) => None,
        }
    }

    /// Waits for the reading thread.
    pub fn finish(&mut self) -> Result<()> {
        if let Some(t) = self.thread.take() {
            t.join()
                .map_err(|_| Error::Other("the workbook reader stopped unexpectedly".into()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::ExcelDateTimeType;

    #[test]
    fn numbers_read_as_people_typed_them() {
        assert_eq!(number_text(13800138000.0), "13800138000");
        assert_eq!(number_text(8613800138000.0), "8613800138000");
        assert_eq!(number_text(0.5), "0.5");
        assert_eq!(number_text(-3.0), "-3");
        assert_eq!(number_text(1e20), "100000000000000000000");
        assert_eq!(cell_text(&DataRef::Int(7)), "7");
    }

    #[test]
    fn dates_read_as_iso_text() {
        let dt = |v| ExcelDateTime::new(v, ExcelDateTimeType::DateTime, false);
        // 2026-12-08 is serial 46364.
        assert_eq!(date_text(&dt(46364.0)), "2026-12-08");
        assert_eq!(date_text(&dt(46364.625)), "2026-12-08 15:00:00");
        assert_eq!(date_text(&dt(0.625)), "15:00:00");
        let d1904 = ExcelDateTime::new(46364.0 - 1462.0, ExcelDateTimeType::DateTime, true);
        assert_eq!(date_text(&d1904), "2026-12-08");
    }
}
