//! TLS as libpq does it, built only when needed.
//!
//! `sslmode` means what it means to `psql`: `prefer` (the default) and `require` encrypt
//! without checking the certificate, `verify-ca` checks it was signed by a trusted CA,
//! `verify-full` also checks the host name. `require` with an explicit `sslrootcert`
//! behaves as `verify-ca`, as in libpq. Trusted CAs: the `sslrootcert` file (or
//! `PGSSLROOTCERT`), else `~/.postgresql/root.crt` if it exists, else the system store
//! (`sslrootcert=system` asks for the system store explicitly).
//!
//! Building an OpenSSL connector loads the system's CA certificates (about 60 ms of CPU),
//! and with `sslmode=prefer` every `pool` process would pay that even against a server
//! without TLS, or over a Unix socket where there is no TLS at all. So the connector is
//! built only in the handshake, which starts only after the server has answered yes to
//! the SSL request.
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use postgres::tls::{MakeTlsConnect, TlsConnect};
use postgres::Socket;
use postgres_native_tls::TlsStream;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How much of the server's certificate the client checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verify {
    /// `prefer`, `require`: encrypted, certificate not checked.
    Nothing,
    /// `verify-ca`: signed by a trusted CA; any host name.
    Ca,
    /// `verify-full`: signed by a trusted CA and issued for the host connected to.
    Full,
}

/// Hands `postgres` a connector per host without building it.
pub struct LazyTls {
    pub verify: Verify,
    /// The CA file to trust instead of the system store (None: the system store).
    pub root: Option<PathBuf>,
}

impl MakeTlsConnect<Socket> for LazyTls {
    type Stream = TlsStream<Socket>;
    type TlsConnect = LazyConnect;
    type Error = BoxError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<LazyConnect, BoxError> {
        Ok(LazyConnect {
            domain: domain.to_string(),
            verify: self.verify,
            root: self.root.clone(),
        })
    }
}

/// The connector for one host, built when the handshake starts.
pub struct LazyConnect {
    domain: String,
    verify: Verify,
    root: Option<PathBuf>,
}

type Handshake = Pin<Box<dyn Future<Output = Result<TlsStream<Socket>, BoxError>> + Send>>;

impl LazyConnect {
    fn connector(&self) -> Result<native_tls::TlsConnector, BoxError> {
        let mut b = native_tls::TlsConnector::builder();
        match self.verify {
            Verify::Nothing => {
                b.danger_accept_invalid_certs(true);
            }
            Verify::Ca => {
                b.danger_accept_invalid_hostnames(true);
            }
            Verify::Full => {}
        }
        if let Some(path) = &self.root {
            let pem = std::fs::read(path).map_err(|e| -> BoxError {
                format!("cannot read sslrootcert {}: {e}", path.display()).into()
            })?;
            let certs = native_tls::Certificate::stack_from_pem(&pem).map_err(|e| -> BoxError {
                format!(
                    "sslrootcert {} holds no PEM certificate: {e}",
                    path.display()
                )
                .into()
            })?;
            if certs.is_empty() {
                return Err(format!("sslrootcert {} holds no certificate", path.display()).into());
            }
            b.disable_built_in_roots(true);
            for c in certs {
                b.add_root_certificate(c);
            }
        }
        Ok(b.build()?)
    }
}

impl TlsConnect<Socket> for LazyConnect {
    type Stream = TlsStream<Socket>;
    type Error = BoxError;
    type Future = Handshake;

    fn connect(self, stream: Socket) -> Handshake {
        match self.connector() {
            Ok(c) => {
                let hs = postgres_native_tls::TlsConnector::new(c, &self.domain).connect(stream);
                Box::pin(async move { hs.await.map_err(BoxError::from) })
            }
            Err(e) => Box::pin(std::future::ready(Err(e))),
        }
    }
}

/// libpq's `sslmode` and `sslrootcert` taken out of a connection string (the `postgres`
/// crate knows neither `verify-*` nor `sslrootcert`): the string without them, with
/// `sslmode=require` where TLS is demanded.
#[derive(Debug, PartialEq, Eq)]
pub struct SslParams {
    pub rest: String,
    pub mode: Option<String>,
    pub root: Option<String>,
}

/// Splits the TLS options out of a `postgres://…?…` URL or a `key=value …` string.
pub fn split_ssl_params(conn: &str) -> SslParams {
    let mut mode = None;
    let mut root = None;
    let t = conn.trim_start();
    let rest = if t.starts_with("postgres://") || t.starts_with("postgresql://") {
        match conn.split_once('?') {
            None => conn.to_string(),
            Some((base, query)) => {
                let mut kept = Vec::new();
                for pair in query.split('&') {
                    match pair.split_once('=') {
                        Some(("sslmode", v)) => mode = Some(percent_decode(v)),
                        Some(("sslrootcert", v)) => root = Some(percent_decode(v)),
                        _ => kept.push(pair),
                    }
                }
                let needs_tls = mode.as_deref().is_some_and(|m| m.starts_with("verify"));
                if needs_tls {
                    kept.push("sslmode=require");
                } else if let Some(m) = &mode {
                    // Re-added as typed: the `postgres` crate checks disable/prefer/require.
                    kept.push(if m == "disable" {
                        "sslmode=disable"
                    } else if m == "prefer" || m == "allow" {
                        // libpq's `allow` tries plaintext first; encrypting first is safer.
                        "sslmode=prefer"
                    } else if m == "require" {
                        "sslmode=require"
                    } else {
                        "sslmode=invalid"
                    });
                }
                if kept.is_empty() {
                    base.to_string()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
        }
    } else {
        let mut kept = Vec::new();
        for (k, v) in key_values(conn) {
            match k.as_str() {
                "sslmode" => mode = Some(v),
                "sslrootcert" => root = Some(v),
                _ => kept.push(format!(
                    "{k}='{}'",
                    v.replace('\\', "\\\\").replace('\'', "\\'")
                )),
            }
        }
        if let Some(m) = &mode {
            let m = match m.as_str() {
                m if m.starts_with("verify") => "require",
                "allow" => "prefer",
                m => m,
            };
            kept.push(format!("sslmode='{m}'"));
        }
        kept.join(" ")
    };
    SslParams { rest, mode, root }
}

/// `key=value` pairs of a libpq string (values may be single-quoted with `\` escapes).
fn key_values(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            break;
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek() == Some(&'=') {
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '\'' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                if c == '\\' {
                    chars.next();
                    if let Some(n) = chars.next() {
                        value.push(n);
                    }
                    continue;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push((key, value));
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_verify_modes_become_require_and_are_kept_aside() {
        let p = split_ssl_params(
            "postgres://li@db:5432/pool?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=3",
        );
        assert_eq!(p.mode.as_deref(), Some("verify-full"));
        assert_eq!(p.root.as_deref(), Some("/etc/ca.pem"));
        assert_eq!(
            p.rest,
            "postgres://li@db:5432/pool?connect_timeout=3&sslmode=require"
        );
        let p = split_ssl_params("postgresql://li@db/pool?sslmode=disable");
        assert_eq!(p.rest, "postgresql://li@db/pool?sslmode=disable");
        let p = split_ssl_params("postgresql://li@db/pool");
        assert_eq!(
            p,
            SslParams {
                rest: "postgresql://li@db/pool".into(),
                mode: None,
                root: None
            }
        );
        // An unknown mode stays unknown, so the parser refuses it instead of ignoring it.
        let p = split_ssl_params("postgresql://li@db/pool?sslmode=verify");
        assert_eq!(p.rest, "postgresql://li@db/pool?sslmode=require");
        let p = split_ssl_params("postgresql://li@db/pool?sslmode=allow");
        assert_eq!(p.rest, "postgresql://li@db/pool?sslmode=prefer");
        let p = split_ssl_params("postgresql://li@db/pool?sslmode=bogus");
        assert_eq!(p.rest, "postgresql://li@db/pool?sslmode=invalid");
    }

    #[test]
    fn key_value_strings_keep_quotes_and_drop_the_tls_keys() {
        let p = split_ssl_params(
            "host=db dbname='my pool' user=li sslmode=verify-ca sslrootcert='/tmp/a b.pem'",
        );
        assert_eq!(p.mode.as_deref(), Some("verify-ca"));
        assert_eq!(p.root.as_deref(), Some("/tmp/a b.pem"));
        assert_eq!(
            p.rest,
            "host='db' dbname='my pool' user='li' sslmode='require'"
        );
        let p = split_ssl_params("host=db password='it\\'s'");
        assert_eq!(p.rest, "host='db' password='it\\'s'");
        assert_eq!(p.mode, None);
    }

    #[test]
    fn percent_decoding_leaves_broken_escapes_alone() {
        assert_eq!(percent_decode("%2Fa%20b"), "/a b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
