//! Rendering: one serde struct per row is shown as a table, JSON, JSON lines or CSV.
//! stdout carries data only; status, warnings and progress go to stderr.
use std::io::{IsTerminal, Write};

use comfy_table::{presets, Attribute, Cell, ContentArrangement, Table};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned table for people
    Table,
    /// One JSON array (or object) for scripts
    Json,
    /// One JSON object per line
    Jsonl,
    /// CSV with a header row
    Csv,
    /// An Excel workbook: only `pool export` writes one (hidden here, listed in its help)
    #[value(hide = true)]
    Xlsx,
}

/// What every command needs to know to print. Copy, so it can be taken out of the
/// context before the store is borrowed.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    pub format: Format,
    pub quiet: bool,
    pub color: bool,
}

impl Out {
    pub fn new(format: Format, quiet: bool) -> Out {
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Out {
            format,
            quiet,
            color,
        }
    }

    /// A status line on stderr (silenced by --quiet).
    pub fn status(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            crate::say!("{}", msg.as_ref());
        }
    }

    /// A warning on stderr (never silenced: it may be about the user's data).
    pub fn warn(&self, msg: impl AsRef<str>) {
        crate::say!("warning: {}", msg.as_ref());
    }

    pub fn is_json(&self) -> bool {
        matches!(self.format, Format::Json | Format::Jsonl)
    }

    /// Prints a list of rows in the chosen format. `empty` is said (on stderr) when there
    /// are no rows in table format.
    pub fn rows<T: Serialize>(&self, rows: &[T], empty: &str) -> Result<()> {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        match self.format {
            // JSON straight from the structs: big outputs (recycle plans, stale lists)
            // are not turned into maps first.
            Format::Json => {
                serde_json::to_writer_pretty(&mut w, rows)?;
                writeln!(w)?;
            }
            Format::Jsonl => {
                for r in rows {
                    serde_json::to_writer(&mut w, r)?;
                    writeln!(w)?;
                }
            }
            Format::Csv => {
                let values: Vec<Map<String, Value>> =
                    rows.iter().map(to_map).collect::<Result<Vec<_>>>()?;
                write_csv(&mut w, &values)?;
            }
            Format::Xlsx => return Err(xlsx_only_for_export()),
            Format::Table => {
                if rows.is_empty() {
                    self.status(empty);
                    return Ok(());
                }
                let values: Vec<Map<String, Value>> =
                    rows.iter().map(to_map).collect::<Result<Vec<_>>>()?;
                let headers: Vec<String> = values[0].keys().cloned().collect();
                let cells: Vec<Vec<String>> = values
                    .iter()
                    .map(|v| v.values().map(cell_text).collect())
                    .collect();
                let t = self.fitted(&headers, &cells)?;
                writeln!(w, "{t}")?;
            }
        }
        w.flush()?;
        Ok(())
    }

    /// Prints one record: a two-column table for people, an object for JSON.
    pub fn record<T: Serialize>(&self, record: &T) -> Result<()> {
        let map = to_map(record)?;
        let mut w = std::io::stdout().lock();
        match self.format {
            Format::Json => {
                serde_json::to_writer_pretty(&mut w, &map)?;
                writeln!(w)?;
            }
            Format::Jsonl => {
                serde_json::to_writer(&mut w, &map)?;
                writeln!(w)?;
            }
            Format::Csv => write_csv(&mut w, &[map])?,
            Format::Xlsx => return Err(xlsx_only_for_export()),
            Format::Table => {
                let mut t = self.table();
                for (k, v) in &map {
                    if matches!(v, Value::Array(_) | Value::Object(_)) {
                        continue;
                    }
                    t.add_row(vec![self.header(k), Cell::new(cell_text(v))]);
                }
                writeln!(w, "{t}")?;
            }
        }
        w.flush()?;
        Ok(())
    }

    /// Any serialisable value as JSON (pretty), or one line per array element for JSONL.
    pub fn json<T: Serialize>(&self, value: &T) -> Result<()> {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        if self.format == Format::Jsonl {
            match serde_json::to_value(value)? {
                Value::Array(items) => {
                    for i in items {
                        serde_json::to_writer(&mut w, &i)?;
                        writeln!(w)?;
                    }
                }
                v => {
                    serde_json::to_writer(&mut w, &v)?;
                    writeln!(w)?;
                }
            }
        } else {
            // Straight from the value: no intermediate JSON tree for big reports.
            serde_json::to_writer_pretty(&mut w, value)?;
            writeln!(w)?;
        }
        w.flush()?;
        Ok(())
    }

    /// An object whose last field, `key`, is a long array, written exactly as `json`
    /// writes the whole object: `head` is the object without that field, and the
    /// array's elements arrive already rendered by `json_element` (on other threads:
    /// only copying them out is left to this one), in order.
    pub fn json_with_array(
        &self,
        head: &impl Serialize,
        key: &str,
        elements: impl Iterator<Item = Result<Vec<u8>>>,
    ) -> Result<()> {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        self.write_json_with_array(&mut w, head, key, elements)?;
        w.flush()?;
        Ok(())
    }

    fn write_json_with_array(
        &self,
        mut w: impl Write,
        head: &impl Serialize,
        key: &str,
        elements: impl Iterator<Item = Result<Vec<u8>>>,
    ) -> Result<()> {
        let pretty = self.format != Format::Jsonl;
        let mut head = if pretty {
            serde_json::to_vec_pretty(head)?
        } else {
            serde_json::to_vec(head)?
        };
        // The head's closing brace (and, pretty, the newline before it) gives way to
        // the array's field.
        let closing = if head.ends_with(b"\n}") { 2 } else { 1 };
        let empty = head.len() == closing + 1;
        head.truncate(head.len() - closing);
        let key = serde_json::to_string(key)?;
        w.write_all(&head)?;
        match (pretty, empty) {
            (true, true) => write!(w, "\n  {key}: [")?,
            (true, false) => write!(w, ",\n  {key}: [")?,
            (false, true) => write!(w, "{key}:[")?,
            (false, false) => write!(w, ",{key}:[")?,
        }
        let mut any = false;
        for e in elements {
            let e = e?;
            any |= !e.is_empty();
            w.write_all(&e)?;
        }
        match (pretty, any) {
            (true, true) => w.write_all(b"\n  ]\n}\n")?,
            (true, false) => w.write_all(b"]\n}\n")?,
            (false, _) => w.write_all(b"]}\n")?,
        }
        Ok(())
    }

    /// Element number `at` of the array `json_with_array` writes, appended to `out`
    /// with the separator before it, as `json` would have written it there.
    pub fn json_element(&self, at: usize, value: &impl Serialize, out: &mut Vec<u8>) -> Result<()> {
        if self.format == Format::Jsonl {
            if at > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut *out, value)?;
            return Ok(());
        }
        // Two levels deep (the top object's field, the array): pretty JSON never has a
        // raw newline inside a string, so indenting after each newline is exact.
        out.extend_from_slice(if at > 0 { b",\n    " } else { b"\n    " });
        serde_json::to_writer_pretty(Indented(out), value)?;
        Ok(())
    }

    /// A titled table section (used by `show` and reports); no-op outside table format.
    pub fn section<T: Serialize>(&self, title: &str, rows: &[T]) -> Result<()> {
        if self.format != Format::Table || rows.is_empty() {
            return Ok(());
        }
        let mut w = std::io::stdout().lock();
        writeln!(w, "\n{title}")?;
        w.flush()?;
        drop(w);
        self.rows(rows, "")
    }

    /// A table of these rows that fits the width: the chosen columns (`--columns`), or
    /// all, dropping the least important while too wide (said on stderr); what still
    /// does not fit wraps text, never a number.
    fn fitted(&self, headers: &[String], rows: &[Vec<String>]) -> Result<Table> {
        let picked: Vec<usize> = match CHOSEN.get().filter(|c| !c.is_empty()) {
            Some(chosen) => chosen
                .iter()
                .map(|c| {
                    headers.iter().position(|h| h == c).ok_or_else(|| {
                        Error::invalid_hint(
                            "--columns",
                            format!("'{c}' is not a column here"),
                            format!("columns: {}", headers.join(",")),
                        )
                    })
                })
                .collect::<Result<_>>()?,
            None => {
                let keep = fit_columns(headers, rows, width());
                if keep.len() < headers.len() {
                    let hidden: Vec<&str> = (0..headers.len())
                        .filter(|i| !keep.contains(i))
                        .map(|i| headers[i].as_str())
                        .collect();
                    self.status(format!(
                        "({} column(s) hidden to fit the width: {}; --columns to choose)",
                        hidden.len(),
                        hidden.join(", ")
                    ));
                }
                keep
            }
        };
        let mut t = self.table();
        t.set_header(picked.iter().map(|&i| self.header(&headers[i])));
        for r in rows {
            t.add_row(picked.iter().map(|&i| r[i].as_str()));
        }
        if let Some(w) = width() {
            // Numbers keep their width; text may wrap to fit.
            t.set_width(w as u16);
            t.set_content_arrangement(ContentArrangement::Dynamic);
            for (col, &i) in picked.iter().enumerate() {
                if rows.iter().all(|r| is_number(&r[i])) {
                    if let Some(c) = t.column_mut(col) {
                        c.set_constraint(comfy_table::ColumnConstraint::ContentWidth);
                    }
                }
            }
        }
        Ok(t)
    }

    pub fn table(&self) -> Table {
        let mut t = Table::new();
        t.load_preset(presets::UTF8_FULL_CONDENSED);
        if std::io::stdout().is_terminal() {
            t.set_content_arrangement(ContentArrangement::Dynamic);
        } else {
            t.set_content_arrangement(ContentArrangement::Disabled);
        }
        if !self.color {
            t.force_no_tty();
        }
        t
    }

    pub fn header(&self, h: &str) -> Cell {
        let c = Cell::new(h);
        if self.color {
            c.add_attribute(Attribute::Bold)
        } else {
            c
        }
    }
}

/// `--columns`, set once per process.
static CHOSEN: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

pub fn choose_columns(cols: &[String]) {
    let _ = CHOSEN.set(
        cols.iter()
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect(),
    );
}

/// The columns `--columns` named (empty: none chosen).
pub fn chosen_columns() -> &'static [String] {
    CHOSEN.get().map(Vec::as_slice).unwrap_or(&[])
}

/// The width tables fit: `COLUMNS` if set (also when piped), else the terminal's;
/// None when piped without `COLUMNS` (no limit).
fn width() -> Option<usize> {
    if let Some(c) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c >= 20)
    {
        return Some(c);
    }
    if std::io::stdout().is_terminal() {
        return Table::new().width().map(usize::from).filter(|w| *w >= 20);
    }
    None
}

fn is_number(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | ',' | '%'))
}

/// Columns dropped first when a table is too wide: details before the essentials.
const LEAST_IMPORTANT: &[&str] = &[
    "industry",
    "level",
    "chart",
    "load",
    "tags",
    "email",
    "source",
    "pool",
    "last_contact",
    "address",
    "note",
    "city",
    "team",
    "display_name",
    "company",
];

/// Which columns (indexes, in order) fit `width`: drop the least important, then from
/// the right, keeping at least two.
pub fn fit_columns(headers: &[String], rows: &[Vec<String>], width: Option<usize>) -> Vec<usize> {
    use unicode_width::UnicodeWidthStr;
    let mut keep: Vec<usize> = (0..headers.len()).collect();
    let Some(width) = width else {
        return keep;
    };
    let col_width = |i: usize| {
        rows.iter()
            .map(|r| r[i].lines().map(|l| l.width()).max().unwrap_or(0))
            .chain([headers[i].width()])
            .max()
            .unwrap_or(0)
    };
    // Long text may wrap down to WRAP columns; numbers and short values keep their width.
    const WRAP: usize = 30;
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            let w = col_width(i);
            if w > WRAP && !rows.iter().all(|r| is_number(&r[i])) {
                WRAP.max(headers[i].width())
            } else {
                w
            }
        })
        .collect();
    // "│ a ┆ b │": each column is its content plus a space each side and one rule.
    let total = |keep: &[usize]| keep.iter().map(|&i| widths[i] + 3).sum::<usize>() + 1;
    let mut order: Vec<usize> = LEAST_IMPORTANT
        .iter()
        .filter_map(|n| headers.iter().position(|h| h == n))
        .collect();
    let rest: Vec<usize> = (0..headers.len())
        .rev()
        .filter(|i| !order.contains(i))
        .collect();
    order.extend(rest);
    for drop in order {
        if total(&keep) <= width || keep.len() <= 2 {
            break;
        }
        keep.retain(|&i| i != drop);
    }
    keep
}

/// `--format xlsx` anywhere but `pool export`.
pub fn xlsx_only_for_export() -> Error {
    Error::Usage(
        "--format xlsx is only for `pool export` (pool export --format xlsx -o FILE.xlsx); \
         use --format csv or json here"
            .into(),
    )
}

pub fn to_map<T: Serialize>(v: &T) -> Result<Map<String, Value>> {
    match serde_json::to_value(v)? {
        Value::Object(m) => Ok(m),
        other => Err(Error::Other(format!("cannot render {other} as a row"))),
    }
}

/// How a JSON value reads in a table or CSV cell.
pub fn cell_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => a.iter().map(cell_text).collect::<Vec<_>>().join(", "),
        Value::Object(_) => v.to_string(),
    }
}

/// CSV on stdout, with the formula guard `pool export` uses on every text cell (a
/// spreadsheet must not run `=cmd|…` from a list either); numbers stay numbers.
fn write_csv(w: &mut impl Write, rows: &[Map<String, Value>]) -> Result<()> {
    let guard = |text: String| super::export::guard(&text).into_owned();
    let mut c = csv::Writer::from_writer(w);
    if let Some(first) = rows.first() {
        c.write_record(first.keys().map(|k| guard(k.clone())))?;
    }
    for r in rows {
        c.write_record(r.values().map(|v| match v {
            Value::Number(_) | Value::Bool(_) | Value::Null => cell_text(v),
            _ => guard(cell_text(v)),
        }))?;
    }
    c.flush()?;
    Ok(())
}

/// Asks yes/no on a TTY; without one, a destructive command needs --yes.
pub fn confirm(yes: bool, question: &str) -> Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(Error::Usage(format!(
            "{question} — refusing without a terminal to ask on; pass --yes to confirm"
        )));
    }
    dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact()
        .map_err(|e| Error::Other(format!("prompt failed: {e}")))
}

/// Bytes appended to a buffer with four spaces after each newline.
struct Indented<'a>(&'a mut Vec<u8>);

impl Write for Indented<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for (i, line) in buf.split(|b| *b == b'\n').enumerate() {
            if i > 0 {
                self.0.extend_from_slice(b"\n    ");
            }
            self.0.extend_from_slice(line);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `json_with_array` with its elements from `json_element` writes the bytes `json`
    /// writes for the whole object, pretty and as JSON lines.
    #[test]
    fn an_array_rendered_apart_is_the_same_json() {
        let items = [
            json!({"ids": [1, 2], "names": "王伟 / 华为\n\"x\"", "pairs": [{"a": 1, "p": 0.5, "f": []}]}),
            json!({"ids": [], "nested": {"deep": [[1], {}], "s": "  indented\tline"}}),
            json!(3.25),
        ];
        let heads = [
            json!({"summary": {"customers": 3, "threshold": 0.99, "empty": {}}}),
            json!({}),
        ];
        for format in [Format::Json, Format::Jsonl] {
            let out = Out::new(format, true);
            for head in &heads {
                for n in 0..=items.len() {
                    let mut whole = head.clone();
                    whole["clusters"] = Value::Array(items[..n].to_vec());
                    let expected = match format {
                        Format::Jsonl => serde_json::to_vec(&whole).unwrap(),
                        _ => serde_json::to_vec_pretty(&whole).unwrap(),
                    };
                    let rendered = items[..n].iter().enumerate().map(|(i, v)| {
                        let mut buf = Vec::new();
                        out.json_element(i, v, &mut buf).map(|()| buf)
                    });
                    let mut got = Vec::new();
                    out.write_json_with_array(&mut got, head, "clusters", rendered)
                        .unwrap();
                    assert_eq!(
                        String::from_utf8(got).unwrap(),
                        String::from_utf8(expected).unwrap() + "\n",
                        "{format:?}, {n} elements, head {head}"
                    );
                }
            }
        }
    }
}
