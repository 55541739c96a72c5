//! Custom fields, level and industry in server mode: the same commands as on SQLite, with
//! the server deciding who may declare fields and whose customers may be changed. Runs
//! only when POOL_TEST_PG and PGPORT are set (`eval "$(.ci/pg-cluster start)"`).
use std::process::{Command, Output, Stdio};

use serde_json::Value;

struct Server {
    conninfo: String,
    port: String,
    db: String,
    dir: tempfile::TempDir,
}

const WHO: [&str; 5] = ["owner", "admin", "li", "wang", "lin"];

impl Server {
    fn new(name: &str) -> Option<Server> {
        let conninfo = std::env::var("POOL_TEST_PG").ok().filter(|s| !s.is_empty());
        let port = std::env::var("PGPORT").ok().filter(|s| !s.is_empty());
        let (Some(conninfo), Some(port)) = (conninfo, port) else {
            eprintln!("pg_fields::{name}: skipped (set POOL_TEST_PG and PGPORT)");
            return None;
        };
        let s = Server {
            conninfo,
            port,
            db: format!("pf_{name}_{}", std::process::id()),
            dir: tempfile::TempDir::new().unwrap(),
        };
        s.drop_all();
        s.psql(&format!("CREATE ROLE {}_owner LOGIN CREATEROLE", s.db));
        s.psql(&format!(
            "CREATE DATABASE {0} OWNER {0}_owner TEMPLATE template0 ENCODING 'UTF8'",
            s.db
        ));
        Some(s)
    }

    fn role(&self, who: &str) -> String {
        format!("{}_{who}", self.db)
    }

    fn run(&self, who: &str, args: &[&str]) -> Output {
        let url = format!(
            "postgresql://{}@127.0.0.1:{}/{}",
            self.role(who),
            self.port,
            self.db
        );
        Command::new(assert_cmd::cargo::cargo_bin("pool"))
            .env_clear()
            .env("HOME", self.dir.path())
            .env("NO_COLOR", "1")
            .env("POOL_DB", url)
            .current_dir(self.dir.path())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run pool")
    }

    fn ok(&self, who: &str, args: &[&str]) -> String {
        let out = self.run(who, args);
        assert!(
            out.status.success(),
            "pool {args:?} as {who}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    fn json(&self, who: &str, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        serde_json::from_str(&self.ok(who, &all)).expect("JSON")
    }

    fn fails(&self, who: &str, args: &[&str], code: i32) -> String {
        let out = self.run(who, args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "pool {args:?} as {who}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).to_string()
    }

    fn psql_as(&self, conninfo: &str, sql: &str) -> Output {
        Command::new("psql")
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                conninfo,
                "-c",
                sql,
            ])
            .stdin(Stdio::null())
            .output()
            .expect("psql")
    }

    fn psql(&self, sql: &str) {
        let out = self.psql_as(&self.conninfo, sql);
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// psql connected as a pool user, the way a member could bypass the binary.
    fn psql_user(&self, who: &str, sql: &str) -> Output {
        let c = format!(
            "host=127.0.0.1 port={} dbname={} user={}",
            self.port,
            self.db,
            self.role(who)
        );
        self.psql_as(&c, sql)
    }

    fn drop_all(&self) {
        let _ = Command::new("psql")
            .args(["-X", "-q", "-d", &self.conninfo, "-c"])
            .arg(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db))
            .args(["-c"])
            .arg(
                WHO.iter()
                    .map(|w| format!("DROP ROLE IF EXISTS {};", self.role(w)))
                    .collect::<String>(),
            )
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.drop_all();
    }
}

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

#[test]
fn fields_level_and_industry_on_the_server() {
    let Some(s) = Server::new("fields") else {
        return;
    };
    let admin = s.role("admin");
    s.ok(
        "owner",
        &["init", "--server", "--admin", &admin, "--team", "hq"],
    );
    s.ok("admin", &["team", "add", "east"]);
    for (who, role) in [("li", "member"), ("wang", "member"), ("lin", "viewer")] {
        s.ok(
            "admin",
            &[
                "user",
                "add",
                &s.role(who),
                "--team",
                "east",
                "--role",
                role,
            ],
        );
    }
    // Only an admin declares fields; everyone lists them.
    s.ok(
        "admin",
        &[
            "fields",
            "add",
            "行业",
            "--type",
            "choice",
            "--choices",
            "制造业,零售",
        ],
    );
    s.ok("admin", &["fields", "add", "预算", "--type", "number"]);
    s.fails("li", &["fields", "add", "x"], 4);
    let listed = s.json("lin", &["fields", "list"]);
    assert_eq!(listed[1]["name"], "预算");
    // Not even with psql: the server refuses a member's declaration.
    let out = s.psql_user(
        "li",
        "INSERT INTO custom_fields (pool_id, name, kind, position, created_at) VALUES (1, 'x', 'text', 9, 0)",
    );
    assert!(!out.status.success(), "a member declared a field with psql");

    for (name, phone) in [("甲", "13900000001"), ("乙", "13900000002")] {
        s.ok(
            "admin",
            &["add", "--name", name, "--phone", phone, "--pool"],
        );
    }
    s.ok("li", &["claim", "1", "2"]);
    s.ok(
        "li",
        &[
            "edit",
            "1",
            "--set",
            "行业=零售",
            "--set",
            "预算=1,500",
            "--level",
            "a",
            "--industry",
            "零售业",
        ],
    );
    s.ok("li", &["edit", "2", "--set", "预算=20"]);
    let shown = s.json("li", &["show", "1"]);
    assert_eq!(shown["custom.行业"], "零售");
    assert_eq!(shown["custom.预算"], "1500");
    assert_eq!(shown["level"], "A");
    assert_eq!(shown["industry"], "零售业");
    // Type errors and undeclared keys, as on SQLite.
    s.fails("li", &["edit", "1", "--set", "预算=很多"], 6);
    s.fails("li", &["edit", "1", "--set", "颜色=红"], 6);
    // Another member and a viewer may not change li's customer.
    s.fails("wang", &["edit", "1", "--set", "行业=制造业"], 4);
    s.fails("lin", &["edit", "1", "--level", "B"], 4);
    let out = s.psql_user("wang", "UPDATE customers SET level = 'C' WHERE id = 1");
    let after = s.json("li", &["show", "1"]);
    assert_eq!(after["level"], "A", "psql as wang: {out:?}");
    // --where with numbers, != and the first-class filters.
    assert_eq!(ids(&s.json("li", &["list", "--where", "预算>100"])), [1]);
    assert_eq!(ids(&s.json("li", &["list", "--where", "预算<=20"])), [2]);
    assert_eq!(ids(&s.json("li", &["list", "--where", "行业!=零售"])), [2]);
    assert_eq!(ids(&s.json("li", &["list", "--level", "A"])), [1]);
    assert_eq!(ids(&s.json("li", &["list", "--industry", "零售业"])), [1]);
    // The server audited the edits with level and the custom values.
    let log = s.json("admin", &["audit", "log", "--customer", "1"]);
    let text = log.to_string();
    assert!(text.contains("level") && text.contains("custom"), "{text}");
    // Recycle days per level: A keeps 60 days where the pool says 1.
    s.ok("admin", &["rules", "set", "--recycle-no-contact-days", "1"]);
    s.ok(
        "admin",
        &[
            "rules",
            "set",
            "--for",
            "level=A",
            "--recycle-no-contact-days",
            "60",
        ],
    );
    let later = (customer_pool::clock::now().unwrap() + chrono::Duration::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let out = Command::new(assert_cmd::cargo::cargo_bin("pool"))
        .env_clear()
        .env("HOME", s.dir.path())
        .env("NO_COLOR", "1")
        .env("POOL_NOW", &later)
        .env(
            "POOL_DB",
            format!(
                "postgresql://{}@127.0.0.1:{}/{}",
                s.role("admin"),
                s.port,
                s.db
            ),
        )
        .args(["recycle", "--dry-run", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let due: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ids(&due), [2], "{due}");
}
