//! Reading workbooks back with calamine, the way Excel would show them.
use std::path::Path;

use calamine::{open_workbook, Data, Range, Reader, Xlsx};

/// The first sheet's cells, typed.
pub fn cells(path: &Path) -> Range<Data> {
    let mut book: Xlsx<_> = open_workbook(path).expect("a readable workbook");
    let name = book.sheet_names()[0].clone();
    book.worksheet_range(&name).expect("first sheet")
}

/// A cell as text: whole numbers without `.0`, empty cells as "".
pub fn text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::Float(f) if f.fract() == 0.0 => format!("{}", *f as i64),
        other => other.to_string(),
    }
}

/// The first sheet as rows of text.
pub fn rows(path: &Path) -> Vec<Vec<String>> {
    cells(path)
        .rows()
        .map(|r| r.iter().map(text).collect())
        .collect()
}

/// The formulas of the first sheet (non-empty ones only).
pub fn formulas(path: &Path) -> Vec<String> {
    let mut book: Xlsx<_> = open_workbook(path).expect("a readable workbook");
    let name = book.sheet_names()[0].clone();
    book.worksheet_formula(&name)
        .expect("formulas")
        .used_cells()
        .map(|(_, _, f)| f.clone())
        .filter(|f| !f.is_empty())
        .collect()
}

/// Whether the first sheet's cell (row, col) is bold.
pub fn bold(path: &Path, row: u32, col: u32) -> bool {
    let mut book: Xlsx<_> = open_workbook(path).expect("a readable workbook");
    let name = book.sheet_names()[0].clone();
    let styles = book.worksheet_style(&name).expect("styles");
    styles
        .get((row, col))
        .and_then(|s| s.font.as_ref())
        .is_some_and(|f| f.is_bold())
}

/// Rewrites one file inside a workbook (an xlsx is a zip of XML files), replacing
/// `from` by `to` in it: for cells no writer library produces, such as a formula
/// without a cached value.
pub fn patch(path: &Path, inner: &str, from: &str, to: &str) {
    use std::io::{Read, Write};
    let bytes = std::fs::read(path).expect("workbook");
    let mut zin = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    let mut zout = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let mut found = false;
    for i in 0..zin.len() {
        let mut f = zin.by_index(i).expect("entry");
        let name = f.name().expect("entry name").to_string();
        let mut body = Vec::new();
        f.read_to_end(&mut body).expect("read entry");
        if name == inner {
            let text = String::from_utf8(body).expect("xml");
            assert!(text.contains(from), "{from} not in {inner}: {text}");
            body = text.replace(from, to).into_bytes();
            found = true;
        }
        zout.start_file(name, zip::write::SimpleFileOptions::default())
            .expect("start entry");
        zout.write_all(&body).expect("write entry");
    }
    assert!(found, "{inner} not in the workbook");
    let out = zout.finish().expect("zip").into_inner();
    std::fs::write(path, out).expect("write workbook");
}
