//! TLS as libpq does it, built only when needed.
//!
//! `sslmode` means what it means to `psql`: `prefer` (the default) and `require` encrypt
//! without checking the certificate, `verify-ca` checks it was signed by a trusted CA,
//! `verify-full` also checks the host name. `require` with an explicit `sslrootcert`
//! behaves as `verify-ca`, as in libpq. Trusted CAs: the `sslrootcert` file (or
//! `PGSSLROOTCERT`), else `~/.postgresql/root.crt` if it exists, else the system store
//! (`sslrootcert=system` asks for the system store explicitly).
//!
//! The TLS library is rustls (see `crate::tls`). Its config, and above all the system
//! store, are built only in the handshake, which starts only after the server has
//! answered yes to the SSL request: with `sslmode=prefer` against a server without TLS,
//! or over a Unix socket, a `pool` process pays nothing for TLS.
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use postgres::tls::{MakeTlsConnect, TlsConnect};
use postgres::Socket;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use tokio_postgres_rustls::MakeRustlsConnect;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The stream `tokio-postgres-rustls` hands back (it also gives SCRAM its channel binding).
type Stream = <MakeRustlsConnect as MakeTlsConnect<Socket>>::Stream;

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
    type Stream = Stream;
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

type Handshake = Pin<Box<dyn Future<Output = Result<Stream, BoxError>> + Send>>;

impl LazyConnect {
    /// The trusted CAs: the root file's, else the system's.
    fn roots(&self) -> Result<RootCertStore, BoxError> {
        let Some(path) = &self.root else {
            return Ok(crate::tls::system_roots());
        };
        let pem = std::fs::read(path).map_err(|e| -> BoxError {
            format!("cannot read sslrootcert {}: {e}", path.display()).into()
        })?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| -> BoxError {
                format!(
                    "sslrootcert {} holds no PEM certificate: {e}",
                    path.display()
                )
                .into()
            })?;
        if certs.is_empty() {
            return Err(format!("sslrootcert {} holds no certificate", path.display()).into());
        }
        let mut roots = RootCertStore::empty();
        for c in certs {
            roots.add(c).map_err(|e| -> BoxError {
                format!("sslrootcert {}: {e}", path.display()).into()
            })?;
        }
        Ok(roots)
    }

    fn config(&self) -> Result<ClientConfig, BoxError> {
        let provider = crate::tls::provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        // A root file that cannot be read is an error even when nothing is checked
        // against it, as it was with OpenSSL: a broken file is reported, not ignored.
        let roots = match (&self.root, self.verify) {
            (None, Verify::Nothing) => None,
            _ => Some(Arc::new(self.roots()?)),
        };
        let config = match (self.verify, roots) {
            (Verify::Nothing, _) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Unchecked(provider))),
            (Verify::Ca, Some(roots)) => {
                let chain = WebPkiServerVerifier::builder_with_provider(roots, provider).build()?;
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(AnyName(chain)))
            }
            (_, roots) => {
                let roots = roots.unwrap_or_else(|| Arc::new(crate::tls::system_roots()));
                builder.with_root_certificates(roots)
            }
        };
        Ok(config.with_no_client_auth())
    }
}

impl TlsConnect<Socket> for LazyConnect {
    type Stream = Stream;
    type Error = BoxError;
    type Future = Handshake;

    fn connect(self, stream: Socket) -> Handshake {
        let connect = self.config().and_then(|c| {
            MakeTlsConnect::<Socket>::make_tls_connect(&mut MakeRustlsConnect::new(c), &self.domain)
                .map_err(BoxError::from)
        });
        match connect {
            Ok(c) => {
                let hs = TlsConnect::<Socket>::connect(c, stream);
                Box::pin(async move { hs.await.map_err(BoxError::from) })
            }
            Err(e) => Box::pin(std::future::ready(Err(e))),
        }
    }
}

/// `prefer` / `require`: any certificate, but the handshake's signatures are still
/// checked with the key in it (the connection is encrypted to whoever holds that key).
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the full check, but a certificate issued for another name passes. webpki
/// checks the name only after the chain has verified, so a name error means the chain
/// was good.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
