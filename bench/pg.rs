//! Server-mode workloads: `pool` against PostgreSQL, each beside the bare SQL doing the
//! same work on the same server in the same run (`pgbench`, `psql \copy`), as ratios.
//!
//! Needs a PostgreSQL server where it may create databases and roles: POOL_TEST_PG (a
//! superuser's libpq conninfo) and PGPORT, as `.ci/pg-cluster start` prints (bench/run
//! starts a throwaway cluster when they are not set). Everything it creates is named
//! `pool_bench*` / `bench_*` and dropped at the end.
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::{broken, median, timed, write_leads, Row};

const DB: &str = "pool_bench";
const IMPORT_DB: &str = "pool_bench_import";
const MEMBERS: usize = 32;

struct Server {
    conninfo: String,
    port: String,
}

impl Server {
    fn from_env() -> Option<Server> {
        let conninfo = std::env::var("POOL_TEST_PG")
            .ok()
            .filter(|s| !s.is_empty())?;
        let port = std::env::var("PGPORT").ok().filter(|s| !s.is_empty())?;
        Some(Server { conninfo, port })
    }

    /// Runs SQL as the superuser in `db`; the unaligned, tuples-only output.
    fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = Command::new("psql")
            .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(format!("{} dbname={db}", self.conninfo))
            .arg("-c")
            .arg(sql)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run psql: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "psql: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn pool(&self, exe: &Path, dir: &Path, role: &str, db: &str) -> Command {
        self.pool_at(exe, dir, role, db, &self.port)
    }

    /// `pool` as `role` on `port` (the server's, or a pooler's): TCP on 127.0.0.1, as a
    /// rep on another machine would connect.
    fn pool_at(&self, exe: &Path, dir: &Path, role: &str, db: &str, port: &str) -> Command {
        let mut c = Command::new(exe);
        c.env_clear()
            .env("HOME", dir)
            .env(
                "POOL_DB",
                format!("postgresql://{role}@127.0.0.1:{port}/{db}"),
            )
            .arg("-q")
            .stdin(Stdio::null());
        c
    }

    fn pgbench(&self, db: &str, script: &Path, port: &str) -> Command {
        let mut c = Command::new("pgbench");
        c.args(["-n", "-h", "127.0.0.1", "-p", port, "-U", "bench_owner"])
            .arg("-f")
            .arg(script)
            .arg(db)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    fn drop_all(&self) {
        let _ = self.psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)"),
        );
        let _ = self.psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {IMPORT_DB} WITH (FORCE)"),
        );
        let roles = self
            .psql(
                "postgres",
                "SELECT rolname FROM pg_roles WHERE rolname LIKE 'bench\\_%' ORDER BY rolname <> 'bench_owner'",
            )
            .unwrap_or_default();
        // Members first, the owner (who created them) last.
        let mut roles: Vec<&str> = roles.lines().collect();
        roles.reverse();
        for r in roles {
            let _ = self.psql("postgres", &format!("DROP ROLE IF EXISTS {r}"));
        }
    }
}

fn ok(c: &mut Command, what: &str) -> Result<String, String> {
    let out = c.output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

fn member(k: usize) -> String {
    format!("bench_m{k:02}")
}

/// A database prepared by `pool init --server` with `admin`, open rules and `members`.
fn prepare(
    s: &Server,
    exe: &Path,
    dir: &Path,
    db: &str,
    admin: &str,
    members: usize,
) -> Result<(), String> {
    s.psql(
        "postgres",
        &format!("CREATE DATABASE {db} OWNER bench_owner TEMPLATE template0 ENCODING 'UTF8'"),
    )?;
    ok(
        s.pool(exe, dir, "bench_owner", db)
            .args(["init", "--server", "--admin", admin, "--team", "hq"]),
        "pool init --server",
    )?;
    // The default rules set no limit, hold or cooldown: every claim can succeed.
    for k in 0..members {
        ok(
            s.pool(exe, dir, admin, db).args([
                "user",
                "add",
                &member(k),
                "--team",
                "hq",
                "--role",
                "member",
            ]),
            "pool user add",
        )?;
    }
    Ok(())
}

/// Pooled customer ids of the claim database, in id order.
fn pooled(s: &Server) -> Result<Vec<i64>, String> {
    Ok(s.psql(
        DB,
        "SELECT id FROM customers WHERE owner_id IS NULL AND deleted_at IS NULL ORDER BY id",
    )?
    .lines()
    .filter_map(|l| l.trim().parse().ok())
    .collect())
}

/// `clients` workers each running `pool claim ID` processes on `port`, one id per
/// process, until `ids` are all tried: (seconds, claims that succeeded).
fn claim_race(
    s: &Server,
    exe: &Path,
    dir: &Path,
    port: &str,
    clients: usize,
    ids: &[i64],
) -> Result<(f64, usize), String> {
    let next = AtomicUsize::new(0);
    let won = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for k in 0..clients {
            let (next, won) = (&next, &won);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(id) = ids.get(i) else { break };
                let st = s
                    .pool_at(exe, dir, &member(k % MEMBERS), DB, port)
                    .args(["claim", &id.to_string()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
                if st.map(|st| st.success()).unwrap_or(false) {
                    won.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    Ok((started.elapsed().as_secs_f64(), won.load(Ordering::Relaxed)))
}

/// Customers with more than one claim or an owner without its claim: must be 0.
fn double_owners(s: &Server) -> Result<i64, String> {
    let n = s.psql(
        DB,
        "SELECT (SELECT count(*) FROM (SELECT customer_id FROM ownership_events WHERE event = 'claim'
                   GROUP BY customer_id HAVING count(*) > 1) d)
              + (SELECT count(*) FROM customers c WHERE owner_id IS NOT NULL AND NOT EXISTS
                   (SELECT 1 FROM ownership_events e WHERE e.customer_id = c.id AND e.event = 'claim'
                      AND e.to_user = c.owner_id))",
    )?;
    n.parse().map_err(|_| format!("unexpected count {n:?}"))
}

/// The reference: the bare conditional UPDATE on a table of `k` rows, `txns` times, on
/// `port` (the server's, or a pooler's).
fn bare_claims(
    s: &Server,
    dir: &Path,
    port: &str,
    clients: usize,
    txns: usize,
    k: usize,
    new_connection: bool,
) -> Result<f64, String> {
    s.psql(DB, "UPDATE bench_bare SET owner = NULL")?;
    let script = dir.join("pg-claim.sql");
    std::fs::write(
        &script,
        format!("\\set id random(1, {k})\nUPDATE bench_bare SET owner = :client_id WHERE id = :id AND owner IS NULL;\n"),
    )
    .map_err(|e| e.to_string())?;
    let mut c = s.pgbench(DB, &script, port);
    c.args([
        "-c",
        &clients.to_string(),
        "-j",
        &clients.min(2).to_string(),
    ])
    .args(["-t", &(txns / clients).max(1).to_string()]);
    if new_connection {
        c.arg("-C");
    }
    let started = Instant::now();
    let st = c.status().map_err(|e| format!("cannot run pgbench: {e}"))?;
    if !st.success() {
        return Err("pgbench failed".into());
    }
    Ok(started.elapsed().as_secs_f64())
}

/// One claim workload's measurements: pool's seconds and successful claims, the
/// reference's seconds and transactions, and double owners found afterwards.
struct Race {
    pool_s: f64,
    won: usize,
    ref_s: f64,
    ref_txns: usize,
    doubles: i64,
}

fn claim_row(name: &str, size: u64, m: Race, target: &str, quick: bool) -> Row {
    let Race {
        pool_s,
        won,
        ref_s,
        ref_txns,
        doubles,
    } = m;
    // The reference's time for as many transactions as pool made claims.
    let ref_scaled = ref_s * won as f64 / ref_txns.max(1) as f64;
    let ratio = (pool_s / ref_scaled.max(1e-6) * 100.0).round() / 100.0;
    let result = if doubles != 0 {
        format!("MISS ({doubles} double owners)")
    } else if ratio <= 2.0 {
        "pass".into()
    } else if quick {
        "slow (quick: not a failure)".into()
    } else {
        "MISS".into()
    };
    Row {
        workload: name.into(),
        size,
        pool_s: Some((pool_s * 1000.0).round() / 1000.0),
        reference_s: Some((ref_scaled * 1000.0).round() / 1000.0),
        ratio: Some(ratio),
        pool_peak_mb: None,
        target: target.into(),
        result,
        note: format!(
            "pool {:.0} claims/s ({won} claimed, 0 failures expected); reference {:.0} tx/s; double owners {doubles}",
            won as f64 / pool_s.max(1e-6),
            ref_txns as f64 / ref_s.max(1e-6)
        ),
    }
}

fn claims(
    s: &Server,
    exe: &Path,
    dir: &Path,
    quick: bool,
    rows: &mut Vec<Row>,
) -> Result<(), String> {
    let per_race = if quick { 200 } else { 1000 };
    let many = if quick { 50 } else { 250 };
    // Two direct races, the many-id claim, two races through a pooler.
    let need = 4 * per_race + many;
    prepare(s, exe, dir, DB, "bench_admin", MEMBERS)?;
    // Enough leads that the pool has `need` after the file's own duplicates are skipped.
    let leads = dir.join("pg-claim-leads.csv");
    write_leads(&leads, (need + need / 4) as u64).map_err(|e| e.to_string())?;
    ok(
        s.pool(exe, dir, "bench_admin", DB)
            .arg("import")
            .arg(&leads)
            .args(["--rejects"])
            .arg(dir.join("pg-rejects.csv"))
            .arg("--force"),
        "pool import",
    )?;
    let ids = pooled(s)?;
    if ids.len() < need {
        return Err(format!(
            "only {} pooled customers, {need} needed",
            ids.len()
        ));
    }
    s.psql(
        DB,
        &format!(
            "SET ROLE bench_owner; CREATE TABLE bench_bare (id int PRIMARY KEY, owner int);
             INSERT INTO bench_bare SELECT g, NULL FROM generate_series(1, {per_race}) g;"
        ),
    )?;
    let direct = s.port.clone();
    for (i, clients) in [8usize, 32].into_iter().enumerate() {
        eprintln!("pool-bench: pg claim race, {clients} processes");
        let mine = &ids[i * per_race..(i + 1) * per_race];
        let r = race_row(s, exe, dir, &direct, clients, mine, "", quick)?;
        rows.push(r);
    }
    eprintln!("pool-bench: pg claim of {many} ids in one process");
    let mine: Vec<String> = ids[2 * per_race..2 * per_race + many]
        .iter()
        .map(|i| i.to_string())
        .collect();
    let started = Instant::now();
    let out = s
        .pool(exe, dir, &member(0), DB)
        .arg("claim")
        .args(&mine)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| e.to_string())?;
    let pool_s = started.elapsed().as_secs_f64();
    let won = if out.success() { many } else { 0 };
    let ref_s = bare_claims(s, dir, &direct, 1, many, many, false)?;
    let doubles = double_owners(s)?;
    rows.push(claim_row(
        &format!("pg: one `pool claim` of {many} ids vs persistent pgbench"),
        many as u64,
        Race {
            pool_s,
            won,
            ref_s,
            ref_txns: many,
            doubles,
        },
        "≤ 2× pgbench (one connection) bare UPDATE",
        quick,
    ));

    // The same races through a session-mode PgBouncer (README, "Many short commands"),
    // against the same direct `pgbench -C`; the note adds `pgbench -C` through the pooler.
    // Directly under the temp dir: PgBouncer runs as the cluster's OS user, which may not
    // enter the bench's own (private) temp dir.
    let pooler = std::env::temp_dir().join(format!("pool-bench-pgbouncer-{}", std::process::id()));
    let su = s
        .conninfo
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("user="))
        .unwrap_or("postgres")
        .to_string();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/pg-pooler");
    let port = ok(
        Command::new(&script)
            .arg("start")
            .arg(&pooler)
            .args([&direct, &su]),
        ".ci/pg-pooler start",
    )?
    .trim()
    .to_string();
    let from = 2 * per_race + many;
    let raced = (|| {
        for (i, clients) in [8usize, 32].into_iter().enumerate() {
            eprintln!("pool-bench: pg claim race through PgBouncer, {clients} processes");
            let mine = &ids[from + i * per_race..from + (i + 1) * per_race];
            let mut r = race_row(
                s,
                exe,
                dir,
                &port,
                clients,
                mine,
                " through PgBouncer (session mode)",
                quick,
            )?;
            let via_s = bare_claims(s, dir, &port, clients, per_race, per_race, true)?;
            r.note += &format!(
                "; pgbench -C through the same PgBouncer {:.0} tx/s",
                (per_race / clients * clients) as f64 / via_s.max(1e-6)
            );
            rows.push(r);
        }
        Ok::<(), String>(())
    })();
    let _ = Command::new(&script).arg("stop").arg(&pooler).status();
    raced
}

/// One claim race: `clients` processes claim `ids` through `port`, then the direct
/// `pgbench -C` reference with as many clients, and the double owners.
#[allow(clippy::too_many_arguments)]
fn race_row(
    s: &Server,
    exe: &Path,
    dir: &Path,
    port: &str,
    clients: usize,
    ids: &[i64],
    via: &str,
    quick: bool,
) -> Result<Row, String> {
    let per_race = ids.len();
    let (pool_s, won) = claim_race(s, exe, dir, port, clients, ids)?;
    let ref_s = bare_claims(s, dir, &s.port, clients, per_race, per_race, true)?;
    let doubles = double_owners(s)?;
    let mut r = claim_row(
        &format!("pg: {clients} processes, one `pool claim ID` each{via}, vs pgbench -C"),
        per_race as u64,
        Race {
            pool_s,
            won,
            ref_s,
            ref_txns: per_race / clients * clients,
            doubles,
        },
        "≤ 2× pgbench -C bare UPDATE; 0 double owners",
        quick,
    );
    if won != per_race {
        r.result = format!("MISS ({} of {per_race} claims failed)", per_race - won);
    }
    Ok(r)
}

fn import_and_reports(
    s: &Server,
    exe: &Path,
    dir: &Path,
    n: u64,
    runs: usize,
    quick: bool,
    rows: &mut Vec<Row>,
) -> Result<(), String> {
    let leads = dir.join(format!("leads-{n}.csv"));
    if !leads.exists() {
        write_leads(&leads, n).map_err(|e| e.to_string())?;
    }
    prepare(s, exe, dir, IMPORT_DB, "bench_iadmin", 0)?;
    eprintln!("pool-bench: pg import of {n} leads");
    let rejects = dir.join("pg-import-rejects.csv");
    let mut c = s.pool(exe, dir, "bench_iadmin", IMPORT_DB);
    c.arg("import")
        .arg(&leads)
        .arg("--rejects")
        .arg(&rejects)
        .arg("--force");
    let (pool_s, pool_mb) = timed(&mut c)?;
    s.psql(
        IMPORT_DB,
        "SET ROLE bench_owner; CREATE TABLE bench_leads (name text, company text, phone text, email text, city text, address text, source text, tags text, notes text)",
    )?;
    let mut r = Command::new("psql");
    r.args([
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        "127.0.0.1",
        "-p",
        &s.port,
        "-U",
        "bench_owner",
        "-d",
        IMPORT_DB,
        "-c",
    ])
    .arg(format!(
        "\\copy bench_leads FROM '{}' CSV HEADER",
        leads.display()
    ));
    let (ref_s, _) = timed(&mut r)?;
    let ratio = (pool_s / ref_s.max(1e-6) * 100.0).round() / 100.0;
    rows.push(Row {
        workload: "pg: import leads CSV vs psql \\copy into a bare table".into(),
        size: n,
        pool_s: Some((pool_s * 1000.0).round() / 1000.0),
        reference_s: Some((ref_s * 1000.0).round() / 1000.0),
        ratio: Some(ratio),
        pool_peak_mb: Some(pool_mb.round()),
        target: "(for scale; ≤ 200 MB)".into(),
        result: if pool_mb <= 200.0 || quick { "—".into() } else { "MISS (RSS over 200 MB)".into() },
        note: format!(
            "{:.0} vs {:.0} rows/s; pool: validation, keys, duplicate check, COPY into the server's staging table and one checked, audited move into the indexed tables; reference: one unindexed table",
            n as f64 / pool_s.max(1e-6),
            n as f64 / ref_s.max(1e-6)
        ),
    });
    for name in [
        "summary",
        "owners",
        "teams",
        "funnel",
        "stale",
        "followups",
        "activity",
        "quality",
    ] {
        eprintln!("pool-bench: pg report {name}");
        let mut secs = Vec::new();
        let mut peak: f64 = 0.0;
        for _ in 0..=runs {
            let mut c = s.pool(exe, dir, "bench_iadmin", IMPORT_DB);
            c.args(["report", name, "--format", "json"])
                .stdout(Stdio::null());
            let (t, mb) = timed(&mut c)?;
            secs.push(t);
            peak = peak.max(mb);
        }
        secs.remove(0); // the warm-up
        let t = median(secs);
        rows.push(Row {
            workload: format!("pg: report {name}"),
            size: n,
            pool_s: Some((t * 1000.0).round() / 1000.0),
            reference_s: None,
            ratio: None,
            pool_peak_mb: Some(peak.round()),
            target: "≤ 1 s at 1,000,000".into(),
            result: if t <= 1.0 {
                "pass".into()
            } else if quick {
                "slow (quick: not a failure)".into()
            } else {
                "MISS".into()
            },
            note: String::new(),
        });
    }
    Ok(())
}

/// Every server-mode workload; a BROKEN row when the server is missing or a step fails.
pub fn run(
    exe: &Path,
    dir: &Path,
    n: u64,
    runs: usize,
    quick: bool,
    claims_only: bool,
) -> Vec<Row> {
    let Some(s) = Server::from_env() else {
        return vec![broken(
            "pg workloads",
            n,
            "no server: set POOL_TEST_PG and PGPORT (bench/run starts a throwaway cluster)".into(),
        )];
    };
    let pool = exe.with_file_name("pool");
    s.drop_all();
    let mut rows = Vec::new();
    let made = s.psql("postgres", "CREATE ROLE bench_owner LOGIN CREATEROLE");
    if let Err(e) = made {
        return vec![broken("pg workloads", n, e)];
    }
    if let Err(e) = claims(&s, &pool, dir, quick, &mut rows) {
        rows.push(broken("pg claims", n, e));
    }
    if claims_only {
        s.drop_all();
        return rows;
    }
    if let Err(e) = import_and_reports(&s, &pool, dir, n, runs, quick, &mut rows) {
        rows.push(broken("pg import and reports", n, e));
    }
    s.drop_all();
    rows
}
