//! The PostgreSQL backend (server mode): the same seam as `sqlite/`, on a server that
//! enforces roles, scope, masking, rules and the audit trail itself (see DESIGN.md).
//!
//! The client is the synchronous `postgres` crate: every `pool` command is one short-lived
//! process with one connection, so an async runtime buys nothing. TLS goes through
//! rustls (`tokio-postgres-rustls`), with libpq's `sslmode` meanings (`tls.rs`).
//!
//! The acting user is the login role (`current_user`): [`PgStore::login`] names it, and
//! `--as` is refused (see [`Backend::act_for`] in `tx/mod.rs`).
mod conninfo;
mod doctor;
mod errors;
pub mod migrate;
mod tls;
pub mod tx;

use postgres::config::SslMode;
use postgres::{Client, Config, NoTls};

use crate::error::{Error, Result};

pub use migrate::{init_server, LATEST};

/// A connection to a pool database on a PostgreSQL server.
pub struct PgStore {
    pub(crate) client: Client,
    /// host:port/dbname as user, without the password (for messages).
    location: String,
    /// The login role this connection acts as (`current_user`).
    login: String,
    /// Whether changes may be dated by `POOL_NOW` (the actor is an admin).
    pub(crate) may_simulate: bool,
    /// `--as` was asked for: every transaction is refused with this message.
    pub(crate) refused_as: Option<String>,
}

/// Whether a `--db` value names a PostgreSQL server rather than a SQLite file.
pub fn is_server_url(db: &str) -> bool {
    let d = db.trim_start();
    d.starts_with("postgres://") || d.starts_with("postgresql://")
}

/// Opens a connection to a pool database: `postgres://user@host:port/db?sslmode=require`,
/// `postgresql://…`, or a libpq key=value string (`host=… dbname=… user=…`). Missing
/// parts come from the usual `PG*` variables (PGHOST, PGPORT, PGUSER, PGDATABASE,
/// PGPASSWORD, PGSSLMODE, PGSSLROOTCERT, PGSERVICE) where the URL leaves them out, a
/// `service=` from the connection service file, a password from `~/.pgpass`.
pub fn open(url: &str) -> Result<PgStore> {
    let (client, location) = connect(url)?;
    let mut store = PgStore {
        client,
        location,
        login: String::new(),
        may_simulate: false,
        refused_as: None,
    };
    // The usual case in one round trip: a pool user of a pool database. Anything else
    // (no schema, no users row, no grant) takes the step-by-step path that names it.
    let quick = store
        .client
        .simple_query(
            "SELECT current_user::text, (SELECT value FROM public.settings WHERE key = 'schema_version')",
        )
        .ok()
        .and_then(|msgs| {
            msgs.into_iter().find_map(|m| match m {
                postgres::SimpleQueryMessage::Row(r) => Some((
                    r.get(0).map(String::from),
                    r.get(1).and_then(|v| v.parse::<i64>().ok()),
                )),
                _ => None,
            })
        });
    let found = match quick {
        Some((Some(login), Some(version))) => {
            store.login = login;
            version
        }
        _ => {
            let row = store
                .client
                .query_one("SELECT current_user::text", &[])
                .map_err(Error::from)?;
            store.login = row.get(0);
            migrate::version(&mut store.client)?
        }
    };
    if found == 0 {
        return Err(Error::Integrity(format!(
            "{} is not a pool database (no pool schema); its owner prepares it with pool init --server",
            store.location
        )));
    }
    if found > LATEST {
        return Err(Error::SchemaTooNew {
            found,
            known: LATEST,
        });
    }
    if found < LATEST {
        return Err(Error::Other(format!(
            "the pool database {} is at schema version {found}; its owner upgrades it with pool init --server",
            store.location
        )));
    }
    Ok(store)
}

impl PgStore {
    /// The login role this connection acts as: the pool user of every command.
    pub fn login(&self) -> &str {
        &self.login
    }
}

/// Parses the connection string, fills the gaps from PG* variables, connects (with TLS
/// when asked); the client and a printable location.
pub(crate) fn connect(url: &str) -> Result<(Client, String)> {
    let params = conninfo::split(url);
    let mut config: Config = params.rest.parse().map_err(|e| {
        Error::invalid_hint(
            "--db",
            format!("not a PostgreSQL connection string: {e}"),
            "use postgres://USER@HOST:PORT/DATABASE (add ?sslmode=verify-full for checked TLS), or host=… dbname=… user=…",
        )
    })?;
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    // libpq's order: the string, then its service, then PG* variables, then defaults.
    let service = match params.service.clone().or_else(|| env("PGSERVICE")) {
        Some(name) => conninfo::service(&name)?,
        None => Default::default(),
    };
    let from = |key: &str, var: &str| service.get(key).cloned().or_else(|| env(var));
    if config.get_hosts().is_empty() {
        match from("host", "PGHOST").or_else(|| from("hostaddr", "PGHOSTADDR")) {
            Some(h) if h.starts_with('/') => {
                config.host_path(h);
            }
            Some(h) => {
                config.host(&h);
            }
            None => {
                config.host_path("/var/run/postgresql");
            }
        }
    }
    if config.get_ports().is_empty() {
        if let Some(p) = from("port", "PGPORT") {
            let port = p.parse::<u16>().map_err(|_| {
                Error::invalid_hint(
                    "--db",
                    format!("port '{p}' is not a port number"),
                    "PGPORT or port= takes a number such as 5432",
                )
            })?;
            config.port(port);
        }
    }
    if config.get_user().is_none() {
        let user = from("user", "PGUSER")
            .or_else(|| uzers::get_current_username().map(|u| u.to_string_lossy().into_owned()));
        if let Some(u) = user {
            config.user(&u);
        }
    }
    if config.get_dbname().is_none() {
        if let Some(d) = from("dbname", "PGDATABASE") {
            config.dbname(&d);
        }
    }
    if config.get_connect_timeout().is_none() {
        if let Some(t) =
            from("connect_timeout", "PGCONNECT_TIMEOUT").and_then(|t| t.parse::<u64>().ok())
        {
            config.connect_timeout(std::time::Duration::from_secs(t.max(2)));
        }
    }
    let mut pgpass_note = String::new();
    if config.get_password().is_none() {
        if let Some(p) = from("password", "PGPASSWORD") {
            config.password(p);
        } else {
            match password_file(&config) {
                conninfo::PassFile::Password(p) => {
                    config.password(p);
                }
                conninfo::PassFile::Ignored(path) => {
                    pgpass_note = format!(
                        " ({} was not read: others may read it; chmod 600 it)",
                        path.display()
                    );
                }
                conninfo::PassFile::NoMatch => {}
            }
        }
    }
    let mode = params
        .sslmode
        .clone()
        .or_else(|| from("sslmode", "PGSSLMODE"));
    let tls = tls_settings(
        mode.as_deref(),
        params
            .sslrootcert
            .clone()
            .or_else(|| from("sslrootcert", "PGSSLROOTCERT")),
    )?;
    config.ssl_mode(match mode.as_deref() {
        Some("disable") => SslMode::Disable,
        Some("require" | "verify-ca" | "verify-full") => SslMode::Require,
        _ => SslMode::Prefer,
    });
    config.application_name("pool");
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(std::time::Duration::from_secs(10));
    }
    let location = describe(&config);
    let client = if config.get_ssl_mode() == SslMode::Disable {
        config.connect(NoTls)
    } else {
        config.connect(tls)
    };
    let client = client.map_err(|e| {
        // The crate's own text is often just "db error" or "error performing TLS
        // handshake": the reason is in the chain of sources.
        let mut why = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            why.push_str(": ");
            why.push_str(&s.to_string());
            source = s.source();
        }
        Error::Other(format!(
            "cannot connect to the pool database {location}: {why}{pgpass_note}"
        ))
    })?;
    Ok((client, location))
}

/// The `~/.pgpass` entry for the first host of `config`.
fn password_file(config: &Config) -> conninfo::PassFile {
    use postgres::config::Host;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("");
    let db = config.get_dbname().unwrap_or(user);
    conninfo::pgpass(&host, port, db, user)
}

/// What to check of the server's certificate, as libpq decides it from `sslmode` and
/// `sslrootcert` (see `tls.rs`).
fn tls_settings(mode: Option<&str>, root: Option<String>) -> Result<tls::LazyTls> {
    let default_root = || {
        directories::BaseDirs::new()
            .map(|d| d.home_dir().join(".postgresql/root.crt"))
            .filter(|p| p.is_file())
    };
    let explicit = root.is_some();
    let root = match root.as_deref() {
        Some("system") => None,
        Some(p) => Some(std::path::PathBuf::from(p)),
        None => default_root(),
    };
    let verify = match mode {
        Some("verify-full") => tls::Verify::Full,
        Some("verify-ca") => tls::Verify::Ca,
        // libpq: `require` with a root certificate file behaves as verify-ca.
        Some("require") if root.is_some() || explicit => tls::Verify::Ca,
        None | Some("disable" | "allow" | "prefer" | "require") => tls::Verify::Nothing,
        Some(other) => {
            return Err(Error::invalid_hint(
                "--db",
                format!("unknown sslmode '{other}'"),
                "use sslmode=disable, prefer, require, verify-ca or verify-full",
            ))
        }
    };
    Ok(tls::LazyTls { verify, root })
}

fn describe(config: &Config) -> String {
    use postgres::config::Host;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        config.get_user().unwrap_or(""),
        config.get_dbname().unwrap_or("")
    )
}
