//! What libpq reads around a connection string and the `postgres` crate does not:
//! `sslmode`'s verify modes and `sslrootcert` (used by `tls.rs`), `service=` with the
//! connection service file, and the password file `~/.pgpass`. So a rep connects the way
//! `psql` does, with the same files.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A connection string split into what the `postgres` crate parses (`rest`) and the
/// client-side options it does not know.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ClientParams {
    pub rest: String,
    pub sslmode: Option<String>,
    pub sslrootcert: Option<String>,
    pub service: Option<String>,
}

/// Splits `sslmode`, `sslrootcert` and `service` out of a `postgres://…?…` URL or a
/// `key=value …` string. `sslmode` is applied by the caller, never by the crate, which
/// knows only disable/prefer/require.
pub fn split(conn: &str) -> ClientParams {
    let mut p = ClientParams::default();
    let mut take = |k: &str, v: String| -> bool {
        match k {
            "sslmode" => p.sslmode = Some(v),
            "sslrootcert" => p.sslrootcert = Some(v),
            "service" => p.service = Some(v),
            _ => return false,
        }
        true
    };
    let t = conn.trim_start();
    let rest = if t.starts_with("postgres://") || t.starts_with("postgresql://") {
        match conn.split_once('?') {
            None => conn.to_string(),
            Some((base, query)) => {
                let kept: Vec<&str> = query
                    .split('&')
                    .filter(|pair| match pair.split_once('=') {
                        Some((k, v)) => !take(k, percent_decode(v)),
                        None => !pair.is_empty(),
                    })
                    .collect();
                if kept.is_empty() {
                    base.to_string()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
        }
    } else {
        key_values(conn)
            .into_iter()
            .filter(|(k, v)| !take(k, v.clone()))
            .map(|(k, v)| format!("{k}='{}'", quote(&v)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    ClientParams { rest, ..p }
}

fn quote(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\'', "\\'")
}

/// The keys a service file section may set (libpq knows more; these are the ones pool
/// honours, and any other is refused rather than silently ignored).
pub const SERVICE_KEYS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "sslmode",
    "sslrootcert",
    "connect_timeout",
];

/// The `[name]` section of the connection service file: `PGSERVICEFILE` or
/// `~/.pg_service.conf`, then `PGSYSCONFDIR/pg_service.conf` (default
/// `/etc/postgresql-common/pg_service.conf`). The first file with the section wins.
pub fn service(name: &str) -> Result<HashMap<String, String>> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut files = Vec::new();
    match env("PGSERVICEFILE") {
        Some(f) => files.push(PathBuf::from(f)),
        None => {
            if let Some(home) = home() {
                files.push(home.join(".pg_service.conf"));
            }
        }
    }
    let sys = env("PGSYSCONFDIR").unwrap_or_else(|| "/etc/postgresql-common".into());
    files.push(Path::new(&sys).join("pg_service.conf"));
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        if let Some(section) = service_section(&text, name) {
            for k in section.keys() {
                if !SERVICE_KEYS.contains(&k.as_str()) {
                    return Err(Error::invalid_hint(
                        "--db",
                        format!(
                            "service '{name}' in {} sets '{k}', which pool does not use",
                            f.display()
                        ),
                        format!("a service may set: {}", SERVICE_KEYS.join(", ")),
                    ));
                }
            }
            return Ok(section);
        }
    }
    Err(Error::invalid_hint(
        "--db",
        format!("no connection service '{name}'"),
        format!(
            "define [{name}] in {}",
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(" or ")
        ),
    ))
}

fn service_section(text: &str, name: &str) -> Option<HashMap<String, String>> {
    let mut found: Option<HashMap<String, String>> = None;
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(sec) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            if found.is_some() {
                break;
            }
            inside = sec.trim() == name;
            if inside {
                found = Some(HashMap::new());
            }
            continue;
        }
        if inside {
            if let (Some(map), Some((k, v))) = (found.as_mut(), line.split_once('=')) {
                map.insert(k.trim().to_string(), v.trim().to_string());
            }
        }
    }
    found
}

fn home() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf())
}

/// What the password file gave.
#[derive(Debug, PartialEq, Eq)]
pub enum PassFile {
    Password(String),
    NoMatch,
    /// The file exists but others may read it; libpq ignores it then, and so does pool.
    Ignored(PathBuf),
}

/// The password for host:port:dbname:user from `PGPASSFILE` or `~/.pgpass` (libpq's
/// format: `*` matches anything, `\:` and `\\` escape; a Unix socket matches `localhost`).
pub fn pgpass(host: &str, port: u16, dbname: &str, user: &str) -> PassFile {
    let path = match std::env::var("PGPASSFILE").ok().filter(|v| !v.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => match home() {
            Some(h) => h.join(".pgpass"),
            None => return PassFile::NoMatch,
        },
    };
    let Ok(meta) = std::fs::metadata(&path) else {
        return PassFile::NoMatch;
    };
    {
        use std::os::unix::fs::PermissionsExt;
        if !meta.is_file() || meta.permissions().mode() & 0o077 != 0 {
            return PassFile::Ignored(path);
        }
    }
    let Ok(text) = std::fs::read_to_string(&path) else {
        return PassFile::NoMatch;
    };
    let port = port.to_string();
    let wanted = [host, port.as_str(), dbname, user];
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = pgpass_fields(line);
        if fields.len() < 5 {
            continue;
        }
        let hit = wanted.iter().zip(&fields).all(|(w, f)| {
            f == "*" || f == w || (*w == host && host.starts_with('/') && f == "localhost")
        });
        if hit {
            return PassFile::Password(fields[4..].join(":"));
        }
    }
    PassFile::NoMatch
}

fn pgpass_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(n), Some(f)) = (chars.next(), fields.last_mut()) {
                    f.push(n);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(f) = fields.last_mut() {
                    f.push(c);
                }
            }
        }
    }
    fields
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
    fn client_keys_leave_urls_and_the_rest_stays() {
        let p = split(
            "postgres://li@db:5432/pool?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=3",
        );
        assert_eq!(p.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(p.sslrootcert.as_deref(), Some("/etc/ca.pem"));
        assert_eq!(p.rest, "postgres://li@db:5432/pool?connect_timeout=3");
        let p = split("postgresql://?service=east");
        assert_eq!(p.service.as_deref(), Some("east"));
        assert_eq!(p.rest, "postgresql://");
        let p = split("postgresql://li@db/pool");
        assert_eq!(
            p,
            ClientParams {
                rest: "postgresql://li@db/pool".into(),
                ..Default::default()
            }
        );
    }

    #[test]
    fn key_value_strings_keep_quotes_and_drop_the_client_keys() {
        let p = split("host=db dbname='my pool' user=li sslmode=verify-ca sslrootcert='/tmp/a b.pem' service=x");
        assert_eq!(p.sslmode.as_deref(), Some("verify-ca"));
        assert_eq!(p.sslrootcert.as_deref(), Some("/tmp/a b.pem"));
        assert_eq!(p.service.as_deref(), Some("x"));
        assert_eq!(p.rest, "host='db' dbname='my pool' user='li'");
        let p = split("host=db password='it\\'s'");
        assert_eq!(p.rest, "host='db' password='it\\'s'");
        assert!("host=db password='it\\'s'"
            .parse::<postgres::Config>()
            .is_ok());
        assert!(split("host=db password='it\\'s'")
            .rest
            .parse::<postgres::Config>()
            .is_ok());
    }

    #[test]
    fn percent_decoding_leaves_broken_escapes_alone() {
        assert_eq!(percent_decode("%2Fa%20b"), "/a b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%e4%b8%9c"), "东");
    }

    #[test]
    fn service_sections_are_found_whole_and_alone() {
        let text = "# pools\n[west]\nhost=w\n[east]\nhost = db.example.com\nport=5433\n\n[other]\nhost=o\n";
        let s = service_section(text, "east").expect("east");
        assert_eq!(s.get("host").map(String::as_str), Some("db.example.com"));
        assert_eq!(s.get("port").map(String::as_str), Some("5433"));
        assert_eq!(s.len(), 2);
        assert!(service_section(text, "north").is_none());
    }

    #[test]
    fn pgpass_lines_split_on_unescaped_colons() {
        assert_eq!(
            pgpass_fields("db:5432:pool:li:se:cr\\:et"),
            ["db", "5432", "pool", "li", "se:cr:et"]
        );
        assert_eq!(
            pgpass_fields("*:*:*:li\\\\x:pw"),
            ["*", "*", "*", "li\\x", "pw"]
        );
    }
}
