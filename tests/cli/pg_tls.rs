//! TLS to the server, with libpq's `sslmode` meanings, against a cluster of its own that
//! has a throwaway CA, a certificate for `localhost` only, and refuses plaintext TCP
//! (`POOL_PG_TLS=1 .ci/pg-cluster start`).
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// A TLS-only cluster, stopped and removed on drop.
struct TlsCluster {
    dir: PathBuf,
    env: HashMap<String, String>,
    home: tempfile::TempDir,
}

impl TlsCluster {
    fn start(name: &str) -> Option<TlsCluster> {
        if std::env::var("POOL_TEST_PG").map_or(true, |v| v.is_empty()) {
            eprintln!("pg_tls: skipped (no test cluster: eval \"$(.ci/pg-cluster start)\")");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("pool-pg-tls-{name}-{}", std::process::id()));
        let out = Self::script(&dir, "start");
        assert!(
            out.status.success(),
            "starting the TLS cluster: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let env = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
            .collect();
        Some(TlsCluster {
            dir,
            env,
            home: tempfile::TempDir::new().expect("temp dir"),
        })
    }

    fn script(dir: &PathBuf, what: &str) -> Output {
        Command::new("bash")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/pg-cluster"))
            .arg(what)
            .env("POOL_PG_DIR", dir)
            .env("POOL_PG_TLS", "1")
            .stdin(Stdio::null())
            .output()
            .expect("run .ci/pg-cluster")
    }

    fn var(&self, k: &str) -> &str {
        self.env.get(k).map(String::as_str).unwrap_or("")
    }

    /// psql as the superuser over the Unix socket.
    fn psql(&self, sql: &str) {
        let out = Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.var("POOL_TEST_PG"))
            .args(["-c", sql])
            .stdin(Stdio::null())
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Database `tlspool`, prepared over TLS by its owner with admin `tls_admin` (the
    /// default sslmode, prefer, does not check the self-signed chain, as psql does not).
    fn prepare_pool(&self) {
        self.psql("CREATE ROLE tls_owner LOGIN CREATEROLE");
        self.psql("CREATE DATABASE tlspool OWNER tls_owner TEMPLATE template0 ENCODING 'UTF8'");
        let owner = url(self, "tls_owner", "127.0.0.1", "");
        let out = self.pool(
            &owner,
            &[],
            &["init", "--server", "--admin", "tls_admin", "--team", "hq"],
        );
        assert!(
            out.status.success(),
            "init over TLS: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn pool(&self, db: &str, env: &[(&str, &str)], args: &[&str]) -> Output {
        Command::new(assert_cmd::cargo::cargo_bin("pool"))
            .env_clear()
            .env("HOME", self.home.path())
            .env("NO_COLOR", "1")
            .env("POOL_DB", db)
            .envs(env.iter().copied())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run pool")
    }
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let _ = Self::script(&self.dir, "stop");
    }
}

fn url(c: &TlsCluster, user: &str, host: &str, params: &str) -> String {
    format!(
        "postgresql://{user}@{host}:{}/tlspool{params}",
        c.var("PGPORT")
    )
}

#[test]
fn sslmode_means_what_it_means_to_libpq() {
    let Some(c) = TlsCluster::start("modes") else {
        return;
    };
    c.prepare_pool();
    let ca = c.var("POOL_TEST_PG_CA").to_string();
    assert!(!ca.is_empty(), "the cluster names its CA");
    let works = |db: String, env: &[(&str, &str)]| {
        let out = c.pool(&db, env, &["team", "list", "--format", "json"]);
        assert!(
            out.status.success(),
            "{db} {env:?} should connect: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("hq"));
    };
    let fails = |db: String, env: &[(&str, &str)], why: &str| {
        let out = c.pool(&db, env, &["team", "list"]);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(1), "{db} {env:?} must fail: {err}");
        assert!(
            err.contains("cannot connect") && err.to_lowercase().contains(why),
            "{db} {env:?}: expected '{why}' in: {err}"
        );
        err
    };
    let root = format!("&sslrootcert={ca}");
    // The server refuses plaintext over TCP: every success below was encrypted.
    fails(
        url(&c, "tls_admin", "127.0.0.1", "?sslmode=disable"),
        &[],
        "no encryption",
    );
    works(url(&c, "tls_admin", "127.0.0.1", ""), &[]);
    works(url(&c, "tls_admin", "127.0.0.1", "?sslmode=require"), &[]);
    // verify-ca: the chain must lead to a trusted CA; the system store does not know ours.
    fails(
        url(&c, "tls_admin", "127.0.0.1", "?sslmode=verify-ca"),
        &[],
        "certificate",
    );
    works(
        url(
            &c,
            "tls_admin",
            "127.0.0.1",
            &format!("?sslmode=verify-ca{root}"),
        ),
        &[],
    );
    // libpq: require with a root certificate checks the chain too.
    works(
        url(
            &c,
            "tls_admin",
            "127.0.0.1",
            &format!("?sslmode=require{root}"),
        ),
        &[],
    );
    // verify-full: the certificate names localhost, not 127.0.0.1.
    fails(
        url(
            &c,
            "tls_admin",
            "127.0.0.1",
            &format!("?sslmode=verify-full{root}"),
        ),
        &[],
        "certificate",
    );
    works(
        url(
            &c,
            "tls_admin",
            "localhost",
            &format!("?sslmode=verify-full{root}"),
        ),
        &[],
    );
    // The same from PGSSLMODE / PGSSLROOTCERT when the URL says nothing.
    fails(
        url(&c, "tls_admin", "127.0.0.1", ""),
        &[("PGSSLMODE", "verify-full"), ("PGSSLROOTCERT", &ca)],
        "certificate",
    );
    works(
        url(&c, "tls_admin", "localhost", ""),
        &[("PGSSLMODE", "verify-full"), ("PGSSLROOTCERT", &ca)],
    );
    // And from ~/.postgresql/root.crt, as libpq: require then checks the chain, and a
    // wrong root file fails.
    let pgdir = c.home.path().join(".postgresql");
    std::fs::create_dir_all(&pgdir).expect("mkdir");
    std::fs::copy(&ca, pgdir.join("root.crt")).expect("copy CA");
    works(
        url(&c, "tls_admin", "localhost", "?sslmode=verify-full"),
        &[],
    );
    std::fs::write(pgdir.join("root.crt"), "not a certificate").expect("write");
    fails(
        url(&c, "tls_admin", "127.0.0.1", "?sslmode=require"),
        &[],
        "root.crt",
    );
    // A mode libpq does not know is refused, not ignored.
    let out = c.pool(
        &url(&c, "tls_admin", "127.0.0.1", "?sslmode=bogus"),
        &[],
        &["team", "list"],
    );
    assert_eq!(
        out.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_rep_connects_with_pgpass_and_a_service_file() {
    let Some(c) = TlsCluster::start("files") else {
        return;
    };
    c.prepare_pool();
    let admin = url(&c, "tls_admin", "127.0.0.1", "");
    let out = c.pool(
        &admin,
        &[],
        &["user", "add", "pw_li", "--team", "hq", "--role", "member"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The cluster asks members of pw_users for a password.
    c.psql("CREATE ROLE pw_users NOLOGIN");
    c.psql("GRANT pw_users TO pw_li");
    c.psql("ALTER ROLE pw_li PASSWORD 'se:cret'");
    let li = url(&c, "pw_li", "localhost", "");
    let whoami =
        |db: &str, env: &[(&str, &str)]| c.pool(db, env, &["report", "owners", "--format", "json"]);
    // No password anywhere: refused by the server.
    let out = whoami(&li, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("password"));
    // ~/.pgpass readable by others is ignored, as libpq does, and the error says why.
    let pgpass = c.home.path().join(".pgpass");
    let port = c.var("PGPORT").to_string();
    std::fs::write(
        &pgpass,
        format!("# mine\nother:*:*:*:wrong\nlocalhost:{port}:tlspool:pw_li:se\\:cret\n"),
    )
    .expect("write");
    set_mode(&pgpass, 0o644);
    let out = whoami(&li, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("chmod 600"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    set_mode(&pgpass, 0o600);
    let out = whoami(&li, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A wrong entry that matches first is what libpq would use too.
    std::fs::write(&pgpass, "*:*:*:pw_li:wrong\n").expect("write");
    let out = whoami(&li, &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the first matching line is used"
    );
    std::fs::write(&pgpass, "*:*:*:pw_li:se\\:cret\n").expect("write");
    // A service file names host, port, database, user and TLS; the URL names only it.
    std::fs::write(
        c.home.path().join(".pg_service.conf"),
        format!(
            "[pool-east]\nhost=localhost\nport={port}\ndbname=tlspool\nuser=pw_li\nsslmode=verify-full\nsslrootcert={}\n",
            c.var("POOL_TEST_PG_CA")
        ),
    )
    .expect("write");
    let out = whoami("postgresql://?service=pool-east", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = whoami("postgresql://", &[("PGSERVICE", "pool-east")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The URL beats the service: verify-full against 127.0.0.1 fails on the host name.
    let out = whoami("postgresql://127.0.0.1/?service=pool-east", &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = whoami("postgresql://?service=pool-west", &[]);
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pool-west"));
}

fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}
