//! An Excel workbook of records, written row by row (rust_xlsxwriter's constant-memory
//! mode: rows go to a temporary file as they come, so memory does not grow with the
//! export). Text is written as text cells — a phone `+86 138…` or a code `007` stays as
//! written, and a cell starting with `=` is a string, never a formula — numbers as
//! numbers. The header row is bold, frozen and filterable; column widths fit the data.
use std::io::Write;

use rust_xlsxwriter::{Format, IgnoreError, Workbook, XlsxError};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The most characters Excel keeps in one cell.
pub const MAX_CELL_CHARS: usize = 32_767;
/// The most rows a sheet has (the header row is one of them).
pub const MAX_ROWS: u32 = 1_048_576;
/// The widest a column is made, in characters (wider text wraps off-screen, as in Excel).
const MAX_WIDTH: usize = 50;

pub struct RecordSheet {
    workbook: Workbook,
    /// The next row to write (0 is the header).
    row: u32,
    columns: u16,
    headers: Vec<String>,
    /// The widest cell of each column so far, in terminal-like character widths.
    widths: Vec<usize>,
}

fn xlsx_error(e: XlsxError) -> Error {
    match e {
        XlsxError::IoError(io) => Error::Io(io),
        e => Error::Other(format!("cannot write the workbook: {e}")),
    }
}

/// Display width: CJK and other wide characters take two columns.
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| if (c as u32) < 0x1100 { 1 } else { 2 })
        .sum()
}

impl RecordSheet {
    /// A workbook with one sheet, `name`, whose first row is `headers` (bold, frozen).
    pub fn new(name: &str, headers: &[String]) -> Result<RecordSheet> {
        let columns = u16::try_from(headers.len())
            .ok()
            .filter(|n| *n <= 16_384)
            .ok_or_else(|| Error::Other("more columns than an Excel sheet holds".into()))?;
        let mut workbook = Workbook::new();
        let bold = Format::new().set_bold();
        let ws = workbook
            .add_worksheet_with_constant_memory()
            .map_err(xlsx_error)?;
        ws.set_name(name).map_err(xlsx_error)?;
        for (col, h) in headers.iter().enumerate() {
            ws.write_string_with_format(0, col as u16, h, &bold)
                .map_err(xlsx_error)?;
        }
        ws.set_freeze_panes(1, 0).map_err(xlsx_error)?;
        Ok(RecordSheet {
            workbook,
            row: 1,
            columns,
            headers: headers.to_vec(),
            widths: headers.iter().map(|h| width(h)).collect(),
        })
    }

    /// One record, its values in header order. `what` names the record in errors
    /// ("customer 42").
    pub fn record(&mut self, what: &str, rec: &Map<String, Value>) -> Result<()> {
        if self.row >= MAX_ROWS {
            return Err(Error::invalid_hint(
                "export",
                format!(
                    "more than {} records: an Excel sheet holds no more",
                    MAX_ROWS - 1
                ),
                "narrow the export with the list filters, or export as CSV",
            ));
        }
        let ws = self.workbook.worksheet_from_index(0).map_err(xlsx_error)?;
        let row = self.row;
        for (col, v) in rec.values().enumerate().take(usize::from(self.columns)) {
            let c = col as u16;
            let shown = match v {
                Value::Null => continue,
                Value::Bool(b) => {
                    ws.write_boolean(row, c, *b).map_err(xlsx_error)?;
                    5
                }
                Value::Number(n) => {
                    let text = n.to_string();
                    // Integers beyond 2^53 would lose digits as an Excel number.
                    match n.as_f64().filter(|f| f.abs() < 9.0e15) {
                        Some(f) => ws.write_number(row, c, f).map_err(xlsx_error)?,
                        None => ws.write_string(row, c, &text).map_err(xlsx_error)?,
                    };
                    text.len()
                }
                Value::String(s) => {
                    if s.chars().count() > MAX_CELL_CHARS {
                        return Err(Error::invalid_hint(
                            "export",
                            format!(
                                "{what}: '{}' has {} characters; an Excel cell holds at most {MAX_CELL_CHARS}",
                                self.headers.get(col).map(String::as_str).unwrap_or("?"),
                                s.chars().count()
                            ),
                            "export as CSV (--format csv), which has no such limit",
                        ));
                    }
                    ws.write_string(row, c, s).map_err(xlsx_error)?;
                    width(s)
                }
                other => {
                    let s = other.to_string();
                    ws.write_string(row, c, &s).map_err(xlsx_error)?;
                    width(&s)
                }
            };
            if let Some(w) = self.widths.get_mut(col) {
                *w = (*w).max(shown.min(MAX_WIDTH));
            }
        }
        self.row += 1;
        Ok(())
    }

    /// Sets the widths and the filter, and writes the workbook to `out`.
    pub fn finish<W: Write + Send>(mut self, out: W) -> Result<()> {
        let last_row = self.row - 1;
        let last_col = self.columns.saturating_sub(1);
        let ws = self.workbook.worksheet_from_index(0).map_err(xlsx_error)?;
        for (col, w) in self.widths.iter().enumerate() {
            ws.set_column_width(col as u16, (*w + 2).clamp(6, MAX_WIDTH + 2) as f64)
                .map_err(xlsx_error)?;
        }
        if self.columns > 0 {
            ws.autofilter(0, 0, last_row, last_col)
                .map_err(xlsx_error)?;
            // Phones and codes are text on purpose: no green "number stored as text"
            // triangle on every one of them.
            ws.ignore_error_range(0, 0, last_row, last_col, IgnoreError::NumberStoredAsText)
                .map_err(xlsx_error)?;
        }
        self.workbook.save_to_writer(out).map_err(xlsx_error)
    }
}
