//! Reading leads files: bytes → decoded text → CSV records → validated, typed rows or
//! rejects with a reason. Never writes; the import command decides what to store.
pub mod decode;
pub mod records;
pub mod sheet;

use std::io::Read;

use encoding_rs::Encoding;
use serde_json::{Map, Value};

use crate::domain::columns::{map_headers, Field, Target};
use crate::domain::customer::{validate, CustomerFields, CustomerInput, Stage, MAX_FIELD_BYTES};
use crate::encode::TextEncoding;
use crate::error::{Error, Result};
use decode::{detect, Charset, Decoding, SNIFF};
use records::{RecordInfo, Records, MAX_RECORD_BYTES};

/// Custom columns (ones that are no customer field) one import may bring: every one of
/// them becomes a column of every later export.
pub const MAX_CUSTOM_COLUMNS: usize = 100;
/// Custom fields a database may know in all, over every import.
pub const MAX_CUSTOM_FIELDS: usize = 300;
/// Columns a header may have in all (fields, custom and ignored ones).
pub const MAX_COLUMNS: usize = 500;
/// The longest name a custom column may have, in characters.
pub const MAX_CUSTOM_NAME_CHARS: usize = 100;

/// A row that passed validation.
#[derive(Debug, Clone)]
pub struct Lead {
    pub line: u64,
    pub fields: CustomerFields,
    pub stage: Option<Stage>,
    pub custom: Map<String, Value>,
    /// What was wrong with the row but did not stop it (an invalid optional field,
    /// imported without it): (kind, message).
    pub warnings: Vec<(String, String)>,
}

/// A row that did not, with the reason and the cells as read.
#[derive(Debug, Clone)]
pub struct Reject {
    pub line: u64,
    /// A short category for the summary ("invalid phone", "ragged row" …).
    pub kind: String,
    pub reason: String,
    pub cells: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum Row {
    Lead(Box<Lead>),
    Reject(Reject),
}

/// What the importer was asked to do with every row.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    pub source: Option<String>,
    pub tags: Option<String>,
}

pub struct LeadReader<R: Read> {
    input: Input<R>,
    pub headers: Vec<String>,
    pub targets: Vec<Target>,
    /// The input's encoding as the summary names it (`xlsx` for a workbook).
    pub encoding: &'static str,
    /// The input's text encoding and BOM, to write its rejects the same way (None for a
    /// workbook, whose rejects are a UTF-8 CSV).
    pub text: Option<TextEncoding>,
    /// Rows the input holds, when it says so (a workbook's dimension record).
    pub rows_hint: Option<u64>,
    pub delimiter: u8,
    defaults: Defaults,
    record: csv::StringRecord,
    /// Cells carry `pool export`'s CSV formula guard (`'=…`); a workbook's cells are
    /// typed and carry none.
    guarded: bool,
}

/// Where the records come from.
enum Input<R: Read> {
    Csv(Box<csv::Reader<Records<Decoding<R>>>>),
    Sheet(sheet::SheetRows),
}

/// Picks the delimiter from the header line: the most frequent of , ; tab.
fn sniff_delimiter(sample: &str) -> u8 {
    let first = sample.lines().next().unwrap_or("");
    let count = |c: char| first.chars().filter(|x| *x == c).count();
    [(b',', count(',')), (b';', count(';')), (b'\t', count('\t'))]
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .filter(|(_, n)| *n > 0)
        .map(|(d, _)| d)
        .unwrap_or(b',')
}

/// Undoes the formula guard `pool export` puts on cells: `'=…` → `=…`, `''…` → `'…`.
fn unguard(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r', '\'']) => rest,
        _ => cell,
    }
}

impl<R: Read> LeadReader<R> {
    pub fn new(
        mut input: R,
        charset: Charset,
        delimiter: Option<u8>,
        map: &[(String, String)],
        defaults: Defaults,
    ) -> Result<Self> {
        let mut head = Vec::with_capacity(SNIFF);
        input.by_ref().take(SNIFF as u64).read_to_end(&mut head)?;
        if head.starts_with(b"PK\x03\x04") {
            return Err(Error::invalid_hint(
                "file",
                "is a zip file (an .xlsx workbook?), not CSV text",
                "give a workbook as a file: pool import FILE.xlsx (it cannot be read from stdin)",
            ));
        }
        let encoding = detect(&head, charset).map_err(|m| {
            Error::invalid_hint(
                "file",
                m,
                "pass --encoding utf-8|gbk|utf-16, or save the file from Excel as \"CSV UTF-8\"",
            )
        })?;
        let head_bom: Vec<u8> = head.iter().take(3).copied().collect();
        let (sample, _, _) = encoding.decode(&head);
        let delimiter = delimiter.unwrap_or_else(|| sniff_delimiter(&sample));
        let decoder = Decoding::new(head, input, encoding);
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(Records::new(decoder, delimiter, MAX_RECORD_BYTES));
        let mut record = csv::StringRecord::new();
        let headers: Vec<String> = match csv.read_record(&mut record) {
            Ok(true) => {
                let info = csv.get_mut().take(0);
                if info.as_ref().is_some_and(|i| i.cut.is_some()) {
                    return Err(Error::invalid_hint(
                        "header",
                        format!(
                            "the first row is longer than {} KiB: this is not a CSV file with a header row",
                            MAX_RECORD_BYTES / 1024
                        ),
                        "the first line must name the columns, e.g. 姓名,公司,手机,邮箱",
                    ));
                }
                if let Some((line, lines)) = info.and_then(|i| i.unclosed) {
                    return Err(Error::invalid_hint(
                        "header",
                        format!("a quote opened on line {line} is never closed (it swallowed {lines} more line(s))"),
                        "close the quote in the header row, or remove it",
                    ));
                }
                record.iter().map(|h| h.trim().to_string()).collect()
            }
            Ok(false) => {
                return Err(Error::invalid(
                    "file",
                    "is empty: expected a header row such as 姓名,公司,手机,邮箱",
                ))
            }
            Err(e) => return Err(csv_error(e)),
        };
        let targets = header_targets(&headers, map)?;
        let bom = Encoding::for_bom(&head_bom).is_some();
        Ok(LeadReader {
            input: Input::Csv(Box::new(csv)),
            headers,
            targets,
            encoding: decode::label(encoding),
            text: Some(TextEncoding { encoding, bom }),
            rows_hint: None,
            delimiter,
            defaults,
            record,
            guarded: true,
        })
    }

    /// A reader of one sheet of an xlsx workbook (default: the first): its first row
    /// with any text is the header, mapped like a CSV header.
    pub fn from_workbook(
        path: &std::path::Path,
        sheet: Option<&str>,
        map: &[(String, String)],
        defaults: Defaults,
    ) -> Result<Self> {
        let mut rows = sheet::open(path, sheet)?;
        let headers: Vec<String> = match rows.next_row() {
            Some(Ok(r)) => r.cells.iter().map(|h| h.trim().to_string()).collect(),
            Some(Err(e)) => return Err(e),
            None => {
                return Err(Error::invalid(
                    "file",
                    format!(
                    "sheet '{}' is empty: expected a header row such as 姓名 | 公司 | 手机 | 邮箱",
                    rows.sheet
                ),
                ))
            }
        };
        let targets = header_targets(&headers, map)?;
        let rows_hint = Some(rows.rows_hint);
        Ok(LeadReader {
            input: Input::Sheet(rows),
            headers,
            targets,
            encoding: "xlsx",
            text: None,
            rows_hint,
            delimiter: b',',
            defaults,
            record: csv::StringRecord::new(),
            guarded: false,
        })
    }

    /// The sheet read, for a workbook.
    pub fn sheet(&self) -> Option<&str> {
        match &self.input {
            Input::Sheet(s) => Some(&s.sheet),
            Input::Csv(_) => None,
        }
    }

    pub fn bytes_read(&self) -> u64 {
        match &self.input {
            Input::Csv(csv) => csv.get_ref().get_ref().bytes_read,
            Input::Sheet(s) => s.size,
        }
    }

    /// Bytes of the record read last (batches are bounded by bytes, not only rows).
    pub fn last_record_bytes(&self) -> usize {
        self.record.as_slice().len()
    }

    /// SHA-256 of the whole input (reads what the parser left).
    pub fn finish(mut self) -> Result<String> {
        match &mut self.input {
            Input::Csv(csv) => {
                let d = csv.get_mut().get_mut();
                d.drain()?;
                Ok(d.sha256_hex())
            }
            Input::Sheet(s) => {
                s.finish()?;
                Ok(s.sha256.clone())
            }
        }
    }

    /// The cells of the record as owned strings; past the header's width plus a few,
    /// the rest are joined into one last cell (delimiter between them), so a row of
    /// half a million empty cells costs its bytes, not half a million strings.
    fn cells(&self) -> Vec<String> {
        let keep = self.headers.len() + 8;
        let mut cells: Vec<String> = self
            .record
            .iter()
            .take(keep)
            .map(|c| c.to_string())
            .collect();
        if self.record.len() > keep {
            let mut rest = String::new();
            for (i, c) in self.record.iter().skip(keep).enumerate() {
                if i > 0 {
                    rest.push(char::from(self.delimiter));
                }
                rest.push_str(c);
            }
            cells.push(rest);
        }
        cells
    }

    fn typed(&self, line: u64, info: Option<&RecordInfo>) -> Row {
        // The cells are copied only for a reject; a lead reads them from the record.
        let reject = |kind: &str, reason: String| {
            Row::Reject(Reject {
                line,
                kind: kind.into(),
                reason,
                cells: self.cells(),
            })
        };
        if let Some((quote_line, swallowed)) = info.and_then(|i| i.unclosed) {
            return reject(
                "unclosed quote",
                format!(
                    "a quote opened on line {quote_line} is never closed: it swallowed the \
                     {swallowed} line(s) after it, to the end of the file; close or remove \
                     that quote and import the file again"
                ),
            );
        }
        if let Some((bytes, lines)) = info.and_then(|i| i.cut) {
            return reject(
                "oversize record",
                format!(
                    "the row is longer than the limit of {} KiB ({lines} line(s); only its \
                     first {bytes} bytes are kept here)",
                    MAX_RECORD_BYTES / 1024
                ),
            );
        }
        if self.record.len() != self.headers.len() {
            // A trailing empty cell or two from Excel is not worth a reject.
            let extra_empty = self.record.len() > self.headers.len()
                && self
                    .record
                    .iter()
                    .skip(self.headers.len())
                    .all(|c| c.trim().is_empty());
            if !extra_empty {
                return reject(
                    "ragged row",
                    format!(
                        "{} cells, the header has {}",
                        self.record.len(),
                        self.headers.len()
                    ),
                );
            }
        }
        let mut input = CustomerInput::default();
        let mut stage = None;
        let mut level = None;
        let mut industry = None;
        let mut custom = Map::new();
        for (i, target) in self.targets.iter().enumerate() {
            let raw = self.record.get(i).unwrap_or("");
            if raw.len() > MAX_FIELD_BYTES {
                return reject(
                    "oversize field",
                    format!(
                        "column '{}' is {} bytes (limit {MAX_FIELD_BYTES})",
                        self.headers[i],
                        raw.len()
                    ),
                );
            }
            let cell = if self.guarded { unguard(raw) } else { raw };
            if cell.trim().is_empty() {
                continue;
            }
            let v = Some(cell.to_string());
            match target {
                Target::Field(Field::Name) => input.name = v,
                Target::Field(Field::Company) => input.company = v,
                Target::Field(Field::Phone) => input.phone = v,
                Target::Field(Field::Email) => input.email = v,
                Target::Field(Field::City) => input.city = v,
                Target::Field(Field::Address) => input.address = v,
                Target::Field(Field::Source) => input.source = v,
                Target::Field(Field::Tags) => input.tags = v,
                Target::Field(Field::Notes) => input.notes = v,
                Target::Field(Field::Level) => match crate::domain::fields::level(cell) {
                    Ok(l) => level = Some(l),
                    Err(_) => {
                        return reject(
                            "invalid level",
                            format!("'{}' is not a level (A, B or C)", cell.trim()),
                        )
                    }
                },
                Target::Field(Field::Industry) => {
                    industry = crate::domain::normalize::clean_text(cell)
                }
                Target::Field(Field::Stage) => match Stage::parse(cell) {
                    Some(s) => stage = Some(s),
                    None => {
                        return reject(
                            "invalid stage",
                            format!("'{cell}' is not lead, customer, loyal or churned"),
                        )
                    }
                },
                Target::Custom(name) => {
                    if let Some(t) = crate::domain::normalize::clean_text(cell) {
                        custom.insert(name.clone(), Value::String(t));
                    }
                }
                Target::Ignore => {}
            }
        }
        // --source labels every row; a row's own different source is kept beside it.
        if let Some(src) = &self.defaults.source {
            if let Some(own) = input.source.take().filter(|o| o.trim() != src.trim()) {
                custom.insert("原来源".into(), Value::String(own));
            }
            input.source = Some(src.clone());
        }
        if let Some(t) = &self.defaults.tags {
            input.tags = Some(match input.tags.take() {
                Some(mine) => format!("{mine},{t}"),
                None => t.clone(),
            });
        }
        if input.phone.is_none() && input.email.is_none() {
            return reject("no contact", "neither a phone nor an e-mail".into());
        }
        let mut warnings = Vec::new();
        let mut checked = validate(&input, true);
        // A malformed e-mail beside a valid phone: the lead is imported without it, the
        // raw value kept as the custom field "invalid_email" (shown by `pool show`).
        if let Err(Error::InvalidInput { field, msg }) = &checked {
            if field == "email" && input.phone.is_some() {
                let mut without = input.clone();
                let raw = without.email.take().unwrap_or_default();
                if let Ok(f) = validate(&without, true) {
                    warnings.push((
                        "invalid email".to_string(),
                        format!(
                            "invalid email: {msg}; imported without it (kept as invalid_email)"
                        ),
                    ));
                    custom.insert("invalid_email".into(), Value::String(raw));
                    checked = Ok(f);
                }
            }
        }
        match checked {
            Ok(mut fields) => Row::Lead(Box::new(Lead {
                // Level and industry are not part of the contact's validation.
                fields: {
                    fields.level = level;
                    fields.industry = industry;
                    fields
                },
                line,
                stage,
                custom,
                warnings,
            })),
            Err(Error::InvalidInput { field, msg }) => reject(
                &format!("invalid {field}"),
                format!("invalid {field}: {msg}"),
            ),
            Err(e) => reject("invalid", e.to_string()),
        }
    }
}

/// The header's columns mapped to fields; refused without a name or company column.
fn header_targets(headers: &[String], map: &[(String, String)]) -> Result<Vec<Target>> {
    let targets = map_headers(headers, map).map_err(|m| Error::invalid("header", m))?;
    check_custom_columns(&targets)?;
    if !targets
        .iter()
        .any(|t| matches!(t, Target::Field(Field::Name | Field::Company)))
    {
        return Err(Error::invalid(
            "header",
            format!(
                "no name or company column among: {} (use --map \"COLUMN=name\")",
                headers.join(", ")
            ),
        ));
    }
    Ok(targets)
}

/// Refuses a header that would add more custom columns than `MAX_CUSTOM_COLUMNS`, or
/// one with an absurdly long name, before any row is read.
fn check_custom_columns(targets: &[Target]) -> Result<()> {
    let custom: Vec<&String> = targets
        .iter()
        .filter_map(|t| match t {
            Target::Custom(n) => Some(n),
            _ => None,
        })
        .collect();
    if custom.len() > MAX_CUSTOM_COLUMNS {
        return Err(Error::invalid_hint(
            "header",
            format!(
                "{} columns are no customer field and would each become a custom field \
                 (an import keeps at most {MAX_CUSTOM_COLUMNS}): {}, …",
                custom.len(),
                custom
                    .iter()
                    .take(5)
                    .map(|n| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "remove the columns you do not need from the file, or pass --map \"COLUMN=ignore\" for them",
        ));
    }
    if targets.len() > MAX_COLUMNS {
        return Err(Error::invalid_hint(
            "header",
            format!(
                "{} columns: an import reads at most {MAX_COLUMNS}",
                targets.len()
            ),
            "remove the columns you do not need from the file",
        ));
    }
    if let Some(long) = custom
        .iter()
        .find(|n| n.chars().count() > MAX_CUSTOM_NAME_CHARS)
    {
        let shown: String = long.chars().take(40).collect();
        return Err(Error::invalid_hint(
            "header",
            format!(
                "the column name '{shown}…' is {} characters long (at most {MAX_CUSTOM_NAME_CHARS})",
                long.chars().count()
            ),
            "shorten the column name, or pass --map \"COLUMN=ignore\"",
        ));
    }
    Ok(())
}

fn csv_error(e: csv::Error) -> Error {
    if let csv::ErrorKind::Io(io) = e.kind() {
        if io.kind() == std::io::ErrorKind::InvalidData {
            return Error::invalid("file", io.to_string());
        }
    }
    Error::Csv(e)
}

impl<R: Read> Iterator for LeadReader<R> {
    type Item = Result<Row>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (line, info) = match &mut self.input {
                Input::Sheet(rows) => {
                    let row = match rows.next_row()? {
                        Ok(r) => r,
                        Err(e) => return Some(Err(e)),
                    };
                    // A workbook leaves out empty cells: a short row is not ragged.
                    let mut cells = row.cells;
                    if cells.len() < self.headers.len() {
                        cells.resize(self.headers.len(), String::new());
                    }
                    self.record = csv::StringRecord::from(cells);
                    (row.line, None)
                }
                Input::Csv(csv) => {
                    let mut rec = std::mem::take(&mut self.record);
                    let res = csv.read_record(&mut rec);
                    self.record = rec;
                    match res {
                        Ok(false) => return None,
                        Ok(true) => {
                            let at = self.record.position().map(|p| p.byte()).unwrap_or(0);
                            let info = csv.get_mut().take(at);
                            let line = match &info {
                                Some(i) => i.line,
                                None => self.record.position().map(|p| p.line()).unwrap_or(0),
                            };
                            (line, info)
                        }
                        Err(e) => return Some(Err(csv_error(e))),
                    }
                }
            };
            // Blank lines (all cells empty) are skipped, not rejected.
            let flagged = info
                .as_ref()
                .is_some_and(|i| i.cut.is_some() || i.unclosed.is_some());
            if !flagged && self.record.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            return Some(Ok(self.typed(line, info.as_ref())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<Row> {
        LeadReader::new(
            text.as_bytes(),
            Charset::Auto,
            None,
            &[],
            Defaults::default(),
        )
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
    }

    #[test]
    fn rows_and_rejects() {
        let rows = read("姓名,手机,邮箱,职位\n张三,13800138000,,经理\n李四,,li@,\n王五\n,,,\n赵六,,zl@qq.com,\"销售, 总监\"\n");
        assert_eq!(rows.len(), 4);
        match &rows[0] {
            Row::Lead(l) => {
                assert_eq!(l.line, 2);
                assert_eq!(l.custom["职位"], "经理");
            }
            r => panic!("{r:?}"),
        }
        assert!(matches!(&rows[1], Row::Reject(r) if r.kind == "invalid email" && r.line == 3));
        assert!(matches!(&rows[2], Row::Reject(r) if r.kind == "ragged row"));
        assert!(matches!(&rows[3], Row::Lead(l) if l.custom["职位"] == "销售, 总监"));
    }

    #[test]
    fn semicolons_and_guards() {
        let rows = read("name;phone;notes\nA;'+86 138 0013 8000;'=1+1\n");
        match &rows[0] {
            Row::Lead(l) => {
                assert_eq!(l.fields.keys.phone.as_deref(), Some("8613800138000"));
                assert_eq!(l.fields.notes.as_deref(), Some("=1+1"));
            }
            r => panic!("{r:?}"),
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any bytes: rows or rejects or a clear error, never a panic.
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4096)) {
            let mut with_header = b"name,phone,email\n".to_vec();
            with_header.extend_from_slice(&bytes);
            for input in [bytes.clone(), with_header] {
                if let Ok(reader) = LeadReader::new(&input[..], Charset::Auto, None, &[], Defaults::default()) {
                    for row in reader {
                        if let Err(e) = row {
                            proptest::prop_assert!(!e.to_string().is_empty());
                            break;
                        }
                    }
                }
            }
        }

        /// Text rows round-trip through the export guard and the CSV writer.
        #[test]
        fn guarded_cells_round_trip(name in "[^\\x00]{1,30}", notes in "\\PC{0,60}") {
            let guard = |c: &str| crate::cli::export::guard(c).into_owned();
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(["name", "phone", "notes"]).unwrap();
            w.write_record([guard(&name), "13800138000".into(), guard(&notes)]).unwrap();
            let bytes = w.into_inner().unwrap();
            let rows: Vec<Row> = LeadReader::new(&bytes[..], Charset::Utf8, Some(b','), &[], Defaults::default())
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            if let Some(want) = crate::domain::normalize::clean_text(&name) {
                match &rows[..] {
                    [Row::Lead(l)] => {
                        proptest::prop_assert_eq!(l.fields.name.as_deref(), Some(want.as_str()));
                        proptest::prop_assert_eq!(l.fields.notes.clone(), crate::domain::normalize::clean_free_text(&notes));
                    }
                    other => proptest::prop_assert!(false, "{:?}", other),
                }
            }
        }
    }

    #[test]
    fn header_problems_are_errors() {
        assert!(
            LeadReader::new("".as_bytes(), Charset::Auto, None, &[], Defaults::default()).is_err()
        );
        assert!(LeadReader::new(
            "foo,bar\n1,2\n".as_bytes(),
            Charset::Auto,
            None,
            &[],
            Defaults::default()
        )
        .is_err());
    }
}
