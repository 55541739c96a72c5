//! TLS that costs nothing until the server agrees to it. Building an OpenSSL connector
//! loads the system's CA certificates (about 60 ms of CPU), and with libpq's default
//! `sslmode=prefer` every `pool` process would pay that even against a server without
//! TLS, or over a Unix socket where there is no TLS at all: a tenth of a second on each
//! `pool claim`. Here the connector is built only in the handshake, which starts only
//! after the server has answered yes to the SSL request.
use std::future::Future;
use std::pin::Pin;

use postgres::tls::{MakeTlsConnect, TlsConnect};
use postgres::Socket;
use postgres_native_tls::TlsStream;

/// Hands `postgres` a connector per host without building it.
pub struct LazyTls;

impl MakeTlsConnect<Socket> for LazyTls {
    type Stream = TlsStream<Socket>;
    type TlsConnect = LazyConnect;
    type Error = native_tls::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<LazyConnect, native_tls::Error> {
        Ok(LazyConnect {
            domain: domain.to_string(),
        })
    }
}

/// The connector for one host, built when the handshake starts.
pub struct LazyConnect {
    domain: String,
}

type Handshake = Pin<Box<dyn Future<Output = Result<TlsStream<Socket>, native_tls::Error>> + Send>>;

impl TlsConnect<Socket> for LazyConnect {
    type Stream = TlsStream<Socket>;
    type Error = native_tls::Error;
    type Future = Handshake;

    fn connect(self, stream: Socket) -> Handshake {
        match native_tls::TlsConnector::builder().build() {
            Ok(c) => postgres_native_tls::TlsConnector::new(c, &self.domain).connect(stream),
            Err(e) => Box::pin(std::future::ready(Err(e))),
        }
    }
}
