//! What every TLS client of `pool` shares (PostgreSQL, webhooks, SMTP): rustls on ring,
//! and the system's trusted CAs.
//!
//! The system store (`/etc/ssl/certs`, or `SSL_CERT_FILE` / `SSL_CERT_DIR`) rather than a
//! list compiled in (webpki-roots): it is what OpenSSL trusted before, it holds the
//! company CA an administrator added with `update-ca-certificates`, it is what libpq's
//! `sslrootcert=system` means, and it is kept current by the system's updates, not by
//! rebuilding `pool`. It is read only when a connection needs it (a few ms).
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::RootCertStore;

/// The crypto provider every client config is built with.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The system's trusted CA certificates (those it cannot parse are skipped, as OpenSSL
/// did; an empty store makes every check fail with an unknown issuer).
pub fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    roots
}

/// A client config that checks the server's chain against the system store and its name.
pub fn system_client() -> Result<rustls::ClientConfig, rustls::Error> {
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(system_roots())
        .with_no_client_auth())
}
