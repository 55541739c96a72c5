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
