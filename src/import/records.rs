//! Between the decoder and the CSV parser: follows the CSV quoting the way the parser
//! does, so it knows where each record starts (its line in the file), cuts a record
//! that grows past `MAX_RECORD_BYTES` (the parser then never holds more than that, so
//! memory stays bounded whatever the input: a 50 MB line, `/dev/zero`), and notices a
//! quote still open at the end of the file (it swallowed every line after it).
use std::collections::VecDeque;
use std::io::{self, Read};

/// The longest record (one row, all its cells and line breaks) an import reads. A row
/// of 16 cells at the 64 KiB field limit fits; anything longer is not a leads row.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// What is known about one record the parser will yield, found by its first byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordInfo {
    /// Offset of the record's first byte in the text handed to the parser.
    pub offset: u64,
    /// Line of the file where the record starts (1-based).
    pub line: u64,
    /// The record was cut at the limit: (bytes it had when cut, lines it spans).
    pub cut: Option<(u64, u64)>,
    /// A quote opened on this line was never closed: (line, lines it swallowed).
    pub unclosed: Option<(u64, u64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between records (line breaks only so far).
    StartRecord,
    StartField,
    InField,
    InQuoted,
    QuoteInQuoted,
}

pub struct Records<R> {
    inner: R,
    delimiter: u8,
    limit: u64,
    state: State,
    /// Line of the next byte of the file.
    line: u64,
    last_byte: u8,
    /// Line where the open quoted field started.
    quote_line: u64,
    /// Bytes of the current record handed on.
    record_bytes: u64,
    /// Bytes handed to the parser so far.
    out_offset: u64,
    /// Dropping the rest of a record that was cut, until it ends.
    cutting: bool,
    /// Bytes to hand on before anything else (the end of a cut record).
    inject: Vec<u8>,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    eof: bool,
    /// Records the parser has been given the start of, oldest first.
    pending: VecDeque<RecordInfo>,
    /// Records started so far.
    records: u64,
    /// Skip plain runs with memchr (off only in tests, to check it against the
    /// byte-by-byte path).
    fast: bool,
}

impl<R: Read> Records<R> {
    pub fn new(inner: R, delimiter: u8, limit: usize) -> Self {
        Records {
            inner,
            delimiter,
            limit: limit as u64,
            state: State::StartRecord,
            line: 1,
            last_byte: b'\n',
            quote_line: 0,
            record_bytes: 0,
            out_offset: 0,
            cutting: false,
            inject: Vec::new(),
            buf: vec![0; 64 * 1024],
            pos: 0,
            len: 0,
            eof: false,
            pending: VecDeque::new(),
            records: 0,
            fast: true,
        }
    }

    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The facts about the record the parser just read, given where the parser says it
    /// started: the parser counts the line breaks before a record as part of it, so
    /// this is the first record that starts at or after `position`.
    pub fn take(&mut self, position: u64) -> Option<RecordInfo> {
        while self.pending.front().is_some_and(|r| r.offset < position) {
            self.pending.pop_front();
        }
        self.pending.pop_front()
    }

    /// Moves the quoting state over one byte (as csv_core does with its default
    /// settings: double quotes, CR, LF or CRLF ends a record); true when the byte ends
    /// the record.
    fn step(&mut self, b: u8) -> bool {
        let terminator = b == b'\n' || b == b'\r';
        if b == b'\n' {
            self.line += 1;
        }
        self.last_byte = b;
        let start = matches!(self.state, State::StartRecord | State::StartField);
        let (next, ends) = match self.state {
            State::StartRecord if terminator => (State::StartRecord, false),
            State::InQuoted if b == b'"' => (State::QuoteInQuoted, false),
            State::InQuoted => (State::InQuoted, false),
            State::QuoteInQuoted if b == b'"' => (State::InQuoted, false),
            _ if start && b == b'"' => {
                self.quote_line = self.line;
                (State::InQuoted, false)
            }
            _ if b == self.delimiter => (State::StartField, false),
            _ if terminator => (State::StartRecord, true),
            _ => (State::InField, false),
        };
        self.state = next;
        ends
    }

    /// How many of the next buffered bytes (at most `room`) leave the quoting state as
    /// it is and need no other bookkeeping than a count: inside a field, everything but
    /// the delimiter and line breaks; inside quotes, everything but a quote and a line
    /// feed (its line is counted). Stops before the byte that would pass the limit, so a
    /// cut lands where the byte-by-byte path puts it. Found with memchr: most of a
    /// file's bytes are such runs, and stepping them one by one was the reader's cost.
    fn plain_run(&self, room: usize) -> usize {
        if self.cutting || !self.fast {
            return 0;
        }
        let left =
            usize::try_from(self.limit.saturating_sub(self.record_bytes)).unwrap_or(usize::MAX);
        let avail = (self.len - self.pos).min(room).min(left);
        let bytes = &self.buf[self.pos..self.pos + avail];
        match self.state {
            State::InField => memchr::memchr3(self.delimiter, b'\n', b'\r', bytes).unwrap_or(avail),
            State::InQuoted => memchr::memchr2(b'"', b'\n', bytes).unwrap_or(avail),
            _ => 0,
        }
    }

    /// Lines of the file the current record spans so far.
    fn lines_so_far(&self, start_line: u64) -> u64 {
        let ended_line = u64::from(self.last_byte == b'\n');
        (self.line - ended_line).saturating_sub(start_line) + 1
    }

    /// One more byte of a record being cut: count its lines, stop at its end.
    fn cut_step(&mut self, ends: bool) {
        let lines = self
            .pending
            .back()
            .map(|r| self.lines_so_far(r.line))
            .unwrap_or(0);
        if let Some((_, l)) = self.pending.back_mut().and_then(|r| r.cut.as_mut()) {
            *l = lines;
        }
        self.cutting = !ends;
    }

    /// Reads and drops the rest of a cut record (bounded memory: one buffer).
    fn skip_rest(&mut self) -> io::Result<()> {
        while self.cutting {
            if self.pos == self.len {
                self.pos = 0;
                self.len = self.inner.read(&mut self.buf)?;
                if self.len == 0 {
                    self.eof = true;
                    self.finish();
                    return Ok(());
                }
            }
            let b = self.buf[self.pos];
            self.pos += 1;
            let ends = self.step(b);
            self.cut_step(ends);
        }
        Ok(())
    }

    /// At the end of the input: a quote still open swallowed the lines after it.
    fn finish(&mut self) {
        if self.state == State::InQuoted {
            let last_line = self.line - u64::from(self.last_byte == b'\n');
            let swallowed = last_line.saturating_sub(self.quote_line);
            let quote_line = self.quote_line;
            if let Some(last) = self.pending.back_mut() {
                last.unclosed = Some((quote_line, swallowed));
            }
        }
        self.state = State::StartRecord;
    }
}

impl<R: Read> Read for Records<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if !self.inject.is_empty() {
                let n = out.len().min(self.inject.len());
                out[..n].copy_from_slice(&self.inject[..n]);
                self.inject.drain(..n);
                self.out_offset += n as u64;
                return Ok(n);
            }
            if self.pos == self.len {
                if self.eof {
                    return Ok(0);
                }
                self.pos = 0;
                self.len = self.inner.read(&mut self.buf)?;
                if self.len == 0 {
                    self.eof = true;
                    self.finish();
                    return Ok(0);
                }
            }
            let mut written = 0;
            while self.pos < self.len && written < out.len() {
                let run = self.plain_run(out.len() - written);
                if run > 0 {
                    out[written..written + run]
                        .copy_from_slice(&self.buf[self.pos..self.pos + run]);
                    self.last_byte = self.buf[self.pos + run - 1];
                    self.pos += run;
                    self.record_bytes += run as u64;
                    written += run;
                    continue;
                }
                let b = self.buf[self.pos];
                self.pos += 1;
                let was = self.state;
                let ends = self.step(b);
                if self.cutting {
                    self.cut_step(ends);
                    continue;
                }
                if was == State::StartRecord && self.state != State::StartRecord {
                    self.pending.push_back(RecordInfo {
                        offset: self.out_offset + written as u64,
                        line: self.line,
                        cut: None,
                        unclosed: None,
                    });
                    self.record_bytes = 0;
                    self.records += 1;
                }
                if self.state != State::StartRecord || ends {
                    self.record_bytes += 1;
                }
                if self.record_bytes > self.limit && !ends {
                    // Cut here: end the record for the parser (closing an open quote)
                    // and drop the rest of it; the quoting state keeps following it.
                    let lines = self
                        .pending
                        .back()
                        .map(|r| self.lines_so_far(r.line))
                        .unwrap_or(0);
                    if let Some(last) = self.pending.back_mut() {
                        last.cut = Some((self.limit, lines));
                    }
                    self.inject = if self.state == State::InQuoted {
                        b"\"\n".to_vec()
                    } else {
                        b"\n".to_vec()
                    };
                    self.cutting = true;
                    // Skip the rest now, so the record's facts are complete when the
                    // parser yields it. Not for the first record (the header): a header
                    // that long is refused anyway, and it may never end (/dev/zero).
                    if self.records > 1 {
                        self.skip_rest()?;
                    }
                    break;
                }
                out[written] = b;
                written += 1;
            }
            self.out_offset += written as u64;
            if written > 0 {
                return Ok(written);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs text through `Records` and the CSV parser the way the importer does.
    fn parse(text: &[u8], limit: usize) -> Vec<(Vec<String>, RecordInfo)> {
        parse_with(text, limit, true)
            .into_iter()
            .map(|(cells, info)| (cells, info.expect("info for every record")))
            .collect()
    }

    /// (A header cut at the limit leaves the records after it without facts: the
    /// importer refuses such a file before reading on.)
    fn parse_with(text: &[u8], limit: usize, fast: bool) -> Vec<(Vec<String>, Option<RecordInfo>)> {
        let mut records = Records::new(text, b',', limit);
        records.fast = fast;
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(records);
        let mut out = Vec::new();
        let mut rec = csv::StringRecord::new();
        while csv.read_record(&mut rec).unwrap() {
            let pos = rec.position().map(|p| p.byte()).unwrap_or(0);
            let info = csv.get_mut().take(pos);
            out.push((rec.iter().map(String::from).collect(), info));
        }
        out
    }

    proptest::proptest! {
        /// The memchr runs change nothing: the same cells, lines, cuts and unclosed
        /// quotes as stepping every byte, on text dense in quotes, delimiters and line
        /// breaks, with limits that cut inside runs.
        #[test]
        fn plain_runs_read_like_byte_steps(
            text in proptest::collection::vec(
                proptest::sample::select(b"ab,\"\n\r x".to_vec()), 0..400),
            limit in 1usize..120,
        ) {
            proptest::prop_assert_eq!(parse_with(&text, limit, true), parse_with(&text, limit, false));
        }
    }

    #[test]
    fn lines_follow_quoted_line_breaks_crlf_and_blank_lines() {
        let rows = parse(b"a,b\r\n\r\n1,\"x\ny\"\r\n2,\"\"\"q\"\n\n\n3,z", 1 << 20);
        let lines: Vec<u64> = rows.iter().map(|(_, i)| i.line).collect();
        assert_eq!(lines, [1, 3, 5, 8]);
        assert_eq!(rows[1].0, ["1", "x\ny"]);
        assert_eq!(rows[2].0, ["2", "\"q"]);
        assert!(rows
            .iter()
            .all(|(_, i)| i.cut.is_none() && i.unclosed.is_none()));
    }

    #[test]
    fn an_oversize_record_is_cut_and_the_next_one_keeps_its_line() {
        let mut text = b"name,notes\nA,".to_vec();
        text.extend(std::iter::repeat_n(b'x', 5000));
        text.extend(b"\nB,\"");
        text.extend(std::iter::repeat_n(b'y', 3000));
        text.extend(b"\nmore\nlines\"\nC,ok\n");
        let rows = parse(&text, 1000);
        assert_eq!(rows.len(), 4, "{rows:?}");
        assert_eq!(rows[1].1.line, 2);
        assert_eq!(rows[1].1.cut, Some((1000, 1)));
        assert!(rows[1].0.concat().len() <= 1000);
        assert_eq!(rows[2].1.line, 3);
        assert_eq!(rows[2].1.cut, Some((1000, 3)));
        assert_eq!(rows[3].1.line, 6);
        assert_eq!(rows[3].0, ["C", "ok"]);
    }

    #[test]
    fn an_unclosed_quote_names_its_line_and_what_it_swallowed() {
        let rows = parse(
            b"name,phone,notes\nA,1,\"open\nB,2,x\nC,3,y\nD,4,z\n",
            1 << 20,
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].1.line, 2);
        assert_eq!(rows[1].1.unclosed, Some((2, 3)));
    }

    #[test]
    fn endless_input_is_cut_without_growing() {
        let zeros = std::io::repeat(0).take(5 << 20);
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(Records::new(zeros, b',', 1 << 16));
        let mut rec = csv::ByteRecord::new();
        assert!(csv.read_byte_record(&mut rec).unwrap());
        assert_eq!(rec.as_slice().len(), 1 << 16);
        let info = csv.get_mut().take(0).expect("info");
        assert_eq!(info.cut, Some((1 << 16, 1)));
    }
}
