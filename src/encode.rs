//! Text out in the encoding its reader expects: UTF-8 (with a BOM for Excel, or not),
//! GBK/GB18030 (what Chinese Excel opens by default), UTF-16 (for the rejects of a UTF-16
//! input). The counterpart of `import::decode`. A character the encoding cannot hold is
//! an error, never a silent `?` or an HTML entity in someone's name.
use std::io::{self, Write};

use encoding_rs::{EncoderResult, Encoding, GB18030, GBK, UTF_16BE, UTF_16LE, UTF_8};

/// An encoding and whether the text starts with a byte-order mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextEncoding {
    pub encoding: &'static Encoding,
    pub bom: bool,
}

impl TextEncoding {
    pub const UTF8: TextEncoding = TextEncoding {
        encoding: UTF_8,
        bom: false,
    };

    /// UTF-8 with a BOM: what Excel needs to open a CSV's Chinese text correctly.
    pub const UTF8_BOM: TextEncoding = TextEncoding {
        encoding: UTF_8,
        bom: true,
    };

    pub fn gbk() -> TextEncoding {
        TextEncoding {
            encoding: GBK,
            bom: false,
        }
    }

    pub fn gb18030() -> TextEncoding {
        TextEncoding {
            encoding: GB18030,
            bom: false,
        }
    }

    /// The bytes the text starts with.
    fn bom_bytes(&self) -> &'static [u8] {
        match (self.bom, self.encoding) {
            (false, _) => b"",
            (true, e) if e == UTF_16LE => b"\xFF\xFE",
            (true, e) if e == UTF_16BE => b"\xFE\xFF",
            (true, e) if e == UTF_8 => b"\xEF\xBB\xBF",
            // GBK and GB18030 files carry no BOM that Excel knows.
            (true, _) => b"",
        }
    }

    /// The first character of `text` this encoding cannot hold, if any.
    pub fn unencodable(&self, text: &str) -> Option<char> {
        let e = self.encoding;
        if text.is_ascii() || e == UTF_8 || e == UTF_16LE || e == UTF_16BE || e == GB18030 {
            return None;
        }
        let mut enc = e.new_encoder();
        let mut out = vec![0u8; text.len() * 2 + 8];
        let (res, _, _) = enc.encode_from_utf8_without_replacement(text, &mut out, true);
        match res {
            EncoderResult::Unmappable(c) => Some(c),
            _ => None,
        }
    }

    pub fn label(&self) -> &'static str {
        let e = self.encoding;
        if e == GBK {
            "gbk"
        } else {
            crate::import::decode::label(e)
        }
    }
}

/// A `Write` of UTF-8 text that writes it on in another encoding. Bytes of a character
/// cut between two writes wait for the rest of it.
pub struct EncodingWriter<W: Write> {
    inner: W,
    to: TextEncoding,
    encoder: Option<encoding_rs::Encoder>,
    /// The start of a character whose other bytes have not come yet.
    pending: Vec<u8>,
    started: bool,
    out: Vec<u8>,
}

impl<W: Write> EncodingWriter<W> {
    pub fn new(inner: W, to: TextEncoding) -> Self {
        let utf = [UTF_8, UTF_16LE, UTF_16BE].contains(&to.encoding);
        EncodingWriter {
            inner,
            to,
            encoder: (!utf).then(|| to.encoding.new_encoder()),
            pending: Vec::new(),
            started: false,
            out: Vec::new(),
        }
    }

    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    fn start(&mut self) -> io::Result<()> {
        if !self.started {
            self.started = true;
            self.inner.write_all(self.to.bom_bytes())?;
        }
        Ok(())
    }

    fn encode(&mut self, text: &str) -> io::Result<()> {
        self.out.clear();
        let e = self.to.encoding;
        if e == UTF_8 {
            return self.inner.write_all(text.as_bytes());
        }
        if e == UTF_16LE || e == UTF_16BE {
            for u in text.encode_utf16() {
                let b = if e == UTF_16LE {
                    u.to_le_bytes()
                } else {
                    u.to_be_bytes()
                };
                self.out.extend_from_slice(&b);
            }
            return self.inner.write_all(&self.out);
        }
        let Some(encoder) = self.encoder.as_mut() else {
            return self.inner.write_all(text.as_bytes());
        };
        let mut rest = text;
        loop {
            let room = encoder
                .max_buffer_length_from_utf8_without_replacement(rest.len())
                .unwrap_or(rest.len() * 4 + 16);
            self.out.resize(room, 0);
            let (res, read, written) =
                encoder.encode_from_utf8_without_replacement(rest, &mut self.out, false);
            self.inner.write_all(&self.out[..written])?;
            rest = &rest[read..];
            match res {
                EncoderResult::InputEmpty => return Ok(()),
                EncoderResult::OutputFull => continue,
                EncoderResult::Unmappable(c) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "'{c}' (U+{:04X}) cannot be written in {}",
                            c as u32,
                            self.to.label()
                        ),
                    ))
                }
            }
        }
    }
}

impl<W: Write> Write for EncodingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.start()?;
        let joined;
        let bytes: &[u8] = if self.pending.is_empty() {
            buf
        } else {
            let mut j = std::mem::take(&mut self.pending);
            j.extend_from_slice(buf);
            joined = j;
            &joined
        };
        let (text, tail) = match std::str::from_utf8(bytes) {
            Ok(t) => (t, &[][..]),
            // A character cut at the end: keep its bytes for the next write.
            Err(e) if e.error_len().is_none() => {
                let (ok, tail) = bytes.split_at(e.valid_up_to());
                // Valid by construction.
                (std::str::from_utf8(ok).unwrap_or_default(), tail)
            }
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "text to encode is not UTF-8",
                ))
            }
        };
        let tail = tail.to_vec();
        self.encode(text)?;
        self.pending = tail;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.start()?;
        if !self.pending.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "text to encode ends inside a character",
            ));
        }
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn through(to: TextEncoding, chunks: &[&[u8]]) -> io::Result<Vec<u8>> {
        let mut w = EncodingWriter::new(Vec::new(), to);
        for c in chunks {
            w.write_all(c)?;
        }
        w.flush()?;
        Ok(w.inner)
    }

    #[test]
    fn characters_cut_between_writes_are_joined() {
        let text = "姓名,手机\n张三,13800138000\n";
        let b = text.as_bytes();
        for cut in 0..b.len() {
            let gbk = through(TextEncoding::gbk(), &[&b[..cut], &b[cut..]]).unwrap();
            assert_eq!(gbk, GBK.encode(text).0.into_owned(), "cut at {cut}");
        }
    }

    #[test]
    fn boms_and_utf16() {
        assert_eq!(
            through(TextEncoding::UTF8_BOM, &[b"a"]).unwrap(),
            b"\xEF\xBB\xBFa"
        );
        assert_eq!(through(TextEncoding::UTF8, &[b"a"]).unwrap(), b"a");
        let le = TextEncoding {
            encoding: UTF_16LE,
            bom: true,
        };
        assert_eq!(
            through(le, &["名".as_bytes()]).unwrap(),
            [0xFF, 0xFE, 0x0D, 0x54]
        );
        // An empty text still gets its BOM.
        assert_eq!(
            through(TextEncoding::UTF8_BOM, &[]).unwrap(),
            b"\xEF\xBB\xBF"
        );
    }

    #[test]
    fn what_gbk_cannot_hold_is_an_error() {
        let rare = "𠮷野家";
        assert_eq!(TextEncoding::gbk().unencodable(rare), Some('𠮷'));
        assert_eq!(TextEncoding::gb18030().unencodable(rare), None);
        assert_eq!(TextEncoding::gbk().unencodable("张三"), None);
        let e = through(TextEncoding::gbk(), &[rare.as_bytes()]).unwrap_err();
        assert!(e.to_string().contains("U+20BB7"), "{e}");
        assert_eq!(
            GB18030
                .decode(&through(TextEncoding::gb18030(), &[rare.as_bytes()]).unwrap())
                .0,
            rare
        );
    }
}
