//! Bytes → UTF-8 text for the CSV parser, streaming, in whatever encoding Excel saved:
//! UTF-8 (with or without BOM), GBK/GB18030, UTF-16 with a BOM. Invalid bytes are an
//! error naming the line, never silent replacement characters. The SHA-256 and the
//! byte count of the raw input are taken on the way (audit row, progress bar).
use std::io::{self, Read};

use encoding_rs::{DecoderResult, Encoding, GB18030, UTF_16BE, UTF_16LE, UTF_8};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Charset {
    /// Detect from the BOM and the first 64 KiB
    Auto,
    #[value(name = "utf-8", alias = "utf8")]
    Utf8,
    Gbk,
    Gb18030,
    #[value(name = "utf-16", alias = "utf16")]
    Utf16,
}

/// The first bytes, looked at before decoding starts.
pub const SNIFF: usize = 64 * 1024;

/// UTF-16 without a BOM, told by where its zero bytes fall: the ASCII of a CSV (commas,
/// digits, line breaks) has a zero high byte, odd offsets in UTF-16LE, even ones in
/// UTF-16BE. UTF-8 and GBK text never holds a zero byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZeroBytes {
    None,
    Utf16Le,
    Utf16Be,
    /// Zero bytes with no such pattern: binary data, not text.
    Binary,
}

pub fn zero_bytes(sample: &[u8]) -> ZeroBytes {
    let (mut even, mut odd) = (0usize, 0usize);
    for (i, b) in sample.iter().enumerate() {
        if *b == 0 {
            if i % 2 == 0 {
                even += 1;
            } else {
                odd += 1;
            }
        }
    }
    match (even, odd) {
        // A stray zero byte or two is a damaged cell, not another encoding.
        (e, o) if e + o < 4 => ZeroBytes::None,
        (e, o) if o >= 8 * e => ZeroBytes::Utf16Le,
        (e, o) if e >= 8 * o => ZeroBytes::Utf16Be,
        _ => ZeroBytes::Binary,
    }
}

/// Whether the whole sample decodes in `enc` (a character cut at its end is fine).
fn decodes(sample: &[u8], enc: &'static Encoding) -> bool {
    let mut d = enc.new_decoder_without_bom_handling();
    let mut out = String::with_capacity(sample.len() * 2);
    let (res, _) = d.decode_to_string_without_replacement(sample, &mut out, false);
    !matches!(res, DecoderResult::Malformed(_, _))
}

/// Picks the encoding from a BOM, else UTF-16 by its zero bytes, else from whether the
/// sample is valid UTF-8, else GB18030 (a superset of GBK) if that decodes the sample
/// cleanly. Zero bytes that are not UTF-16 are refused (a binary file, not a CSV).
pub fn detect(sample: &[u8], asked: Charset) -> Result<&'static Encoding, String> {
    if let Some((enc, _)) = Encoding::for_bom(sample) {
        return Ok(enc);
    }
    let zeros = zero_bytes(sample);
    let utf16 = match zeros {
        ZeroBytes::Utf16Be => Some(UTF_16BE),
        ZeroBytes::Utf16Le => Some(UTF_16LE),
        _ => None,
    };
    Ok(match asked {
        Charset::Utf8 => UTF_8,
        Charset::Gbk | Charset::Gb18030 => GB18030,
        Charset::Utf16 => utf16.unwrap_or(UTF_16LE),
        Charset::Auto => {
            if let Some(enc) = utf16 {
                if decodes(sample, enc) {
                    return Ok(enc);
                }
                return Err(format!(
                    "looks like {} without a byte-order mark, but does not decode as it; \
                     save the file as UTF-8, or pass --encoding",
                    label(enc)
                ));
            }
            if zeros == ZeroBytes::Binary {
                return Err("holds zero bytes: it is binary data, not a CSV text file".to_string());
            }
            match std::str::from_utf8(sample) {
                Ok(_) => return Ok(UTF_8),
                // Cut in the middle of a character at the end of the sample: still UTF-8.
                Err(e) if e.error_len().is_none() => return Ok(UTF_8),
                Err(_) => {}
            }
            if decodes(sample, GB18030) {
                GB18030
            } else {
                UTF_8
            }
        }
    })
}

pub fn label(enc: &'static Encoding) -> &'static str {
    if enc == GB18030 {
        "gb18030"
    } else if enc == UTF_16LE {
        "utf-16le"
    } else if enc == UTF_16BE {
        "utf-16be"
    } else {
        "utf-8"
    }
}

/// A `Read` of UTF-8 over a `Read` of bytes in another encoding.
pub struct Decoding<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    encoding: &'static Encoding,
    raw: Vec<u8>,
    raw_start: usize,
    raw_end: usize,
    eof: bool,
    out: Vec<u8>,
    out_start: usize,
    /// Lines handed out so far (1-based line of the next byte).
    line: u64,
    pub bytes_read: u64,
    sha: Sha256,
}

impl<R: Read> Decoding<R> {
    /// `head` holds bytes already read from `inner` for detection.
    pub fn new(head: Vec<u8>, inner: R, encoding: &'static Encoding) -> Self {
        let mut sha = Sha256::new();
        sha.update(&head);
        let len = head.len();
        let mut raw = head;
        raw.resize(len.max(SNIFF), 0);
        Decoding {
            inner,
            // The BOM (if any) is removed; a BOM of another encoding than detected is data.
            decoder: encoding.new_decoder_with_bom_removal(),
            encoding,
            raw,
            raw_start: 0,
            raw_end: len,
            eof: false,
            out: Vec::with_capacity(SNIFF * 3),
            out_start: 0,
            line: 1,
            bytes_read: len as u64,
            sha,
        }
    }

    pub fn sha256_hex(&self) -> String {
        format!("{:x}", self.sha.clone().finalize())
    }

    /// Finishes hashing whatever the parser did not need (it stops at the last record).
    pub fn drain(&mut self) -> io::Result<()> {
        let mut buf = vec![0u8; SNIFF];
        loop {
            let n = self.inner.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            self.sha.update(&buf[..n]);
            self.bytes_read += n as u64;
        }
    }

    fn refill(&mut self) -> io::Result<()> {
        if self.raw_start > 0 {
            self.raw.copy_within(self.raw_start..self.raw_end, 0);
            self.raw_end -= self.raw_start;
            self.raw_start = 0;
        }
        if self.raw_end == self.raw.len() {
            self.raw.resize(self.raw.len() * 2, 0);
        }
        let n = self.inner.read(&mut self.raw[self.raw_end..])?;
        if n == 0 {
            self.eof = true;
        } else {
            self.sha.update(&self.raw[self.raw_end..self.raw_end + n]);
            self.bytes_read += n as u64;
            self.raw_end += n;
        }
        Ok(())
    }

    /// Decodes the next chunk into `out`.
    fn decode_more(&mut self) -> io::Result<()> {
        self.out.clear();
        self.out_start = 0;
        loop {
            if self.raw_start == self.raw_end && !self.eof {
                self.refill()?;
            }
            let src = &self.raw[self.raw_start..self.raw_end];
            let room = self
                .decoder
                .max_utf8_buffer_length_without_replacement(src.len())
                .unwrap_or(src.len() * 3 + 16);
            let old = self.out.len();
            self.out.resize(old + room.max(16), 0);
            let (res, read, written) = self.decoder.decode_to_utf8_without_replacement(
                src,
                &mut self.out[old..],
                self.eof,
            );
            self.out.truncate(old + written);
            self.raw_start += read;
            match res {
                DecoderResult::InputEmpty => {
                    if !self.out.is_empty() || self.eof {
                        return Ok(());
                    }
                }
                DecoderResult::OutputFull => return Ok(()),
                DecoderResult::Malformed(_, _) => {
                    let line = self.line + self.out.iter().filter(|b| **b == b'\n').count() as u64;
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "invalid {} bytes on line {line}; save the file as UTF-8, or pass --encoding",
                            label(self.encoding)
                        ),
                    ));
                }
            }
        }
    }
}

impl<R: Read> Read for Decoding<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.out_start == self.out.len() {
            if self.eof && self.raw_start == self.raw_end {
                return Ok(0);
            }
            self.decode_more()?;
            if self.out.is_empty() {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.out.len() - self.out_start);
        buf[..n].copy_from_slice(&self.out[self.out_start..self.out_start + n]);
        self.line += buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
        self.out_start += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(bytes: &[u8], asked: Charset) -> io::Result<String> {
        let head = bytes[..bytes.len().min(SNIFF)].to_vec();
        let enc = detect(&head, asked).map_err(io::Error::other)?;
        let mut d = Decoding::new(head, &bytes[bytes.len().min(SNIFF)..], enc);
        let mut s = String::new();
        d.read_to_string(&mut s)?;
        Ok(s)
    }

    #[test]
    fn utf8_with_and_without_bom() {
        assert_eq!(
            decode_all("姓名,电话\n张三,1\n".as_bytes(), Charset::Auto).unwrap(),
            "姓名,电话\n张三,1\n"
        );
        let mut b = vec![0xEF, 0xBB, 0xBF];
        b.extend_from_slice("姓名\n".as_bytes());
        assert_eq!(decode_all(&b, Charset::Auto).unwrap(), "姓名\n");
    }

    #[test]
    fn gbk_is_detected() {
        let (bytes, _, _) = encoding_rs::GBK.encode("姓名,公司\n张三,杭州云帆科技有限公司\n");
        assert_eq!(detect(&bytes, Charset::Auto), Ok(GB18030));
        assert_eq!(
            decode_all(&bytes, Charset::Auto).unwrap(),
            "姓名,公司\n张三,杭州云帆科技有限公司\n"
        );
    }

    #[test]
    fn utf16le_with_bom() {
        let mut b = vec![0xFF, 0xFE];
        for u in "name\n李四\n".encode_utf16() {
            b.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(decode_all(&b, Charset::Auto).unwrap(), "name\n李四\n");
    }

    #[test]
    fn utf16_without_bom_is_told_by_its_zero_bytes() {
        let text = "name,phone\n李四,13800138000\nBob,13900139000\n";
        let le: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
        assert_eq!(detect(&le, Charset::Auto), Ok(UTF_16LE));
        assert_eq!(detect(&be, Charset::Auto), Ok(UTF_16BE));
        assert_eq!(decode_all(&le, Charset::Auto).unwrap(), text);
        assert_eq!(decode_all(&be, Charset::Auto).unwrap(), text);
        assert_eq!(decode_all(&be, Charset::Utf16).unwrap(), text);
        // A lone surrogate: the pattern says UTF-16BE, the bytes are not.
        let mut broken = be.clone();
        broken.extend_from_slice(&[0xD8, 0x00, 0x00, 0x41]);
        let e = detect(&broken, Charset::Auto).unwrap_err();
        assert!(e.contains("utf-16be"), "{e}");
        assert_eq!(zero_bytes(&[0u8; 64]), ZeroBytes::Binary);
        assert_eq!(zero_bytes("姓名,电话\n".as_bytes()), ZeroBytes::None);
    }

    #[test]
    fn invalid_bytes_name_the_line() {
        let mut b = "a\nb\n".as_bytes().to_vec();
        b.extend_from_slice(&[0xFF, 0xFF, b'\n']);
        let e = decode_all(&b, Charset::Utf8).unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
    }

    #[test]
    fn long_input_streams_across_buffers() {
        let line = "张三,13800138000,杭州\n";
        let text = line.repeat(20_000);
        assert_eq!(decode_all(text.as_bytes(), Charset::Auto).unwrap(), text);
        let (gbk, _, _) = encoding_rs::GBK.encode(&text);
        assert_eq!(decode_all(&gbk, Charset::Gbk).unwrap(), text);
    }
}
