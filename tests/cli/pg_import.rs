//! Server mode: a bulk `pool import` goes through COPY into the server's staging table
//! and one set-based move (migration 10), and the server still decides where the rows may
//! land, stamps them and audits them. Through the real binary and through psql as the
//! member who would abuse the staging path. Runs only with POOL_TEST_PG
//! (`eval "$(.ci/pg-cluster start)"`); otherwise each test says it is skipped.
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Stdio;

use crate::common::pg::Server;

/// A fresh database: admin in team east, member li there, member wang in team west, a
/// viewer in east, and a pool only team west sees.
fn server(name: &str) -> Option<Server> {
    let s = Server::new("pi", name)?;
    s.init("east");
    s.ok("admin", &["team", "add", "west"]);
    for (who, team, role) in [
        ("li", "east", "member"),
        ("wang", "west", "member"),
        ("viewer", "east", "viewer"),
    ] {
        s.add_user(who, team, role);
    }
    // The members here import files of up to 60,000 rows, a phone and an e-mail each:
    // past the default daily quota of whole-key lookups (migration 20), so the admin
    // raises it, as one would before such imports.
    s.ok(
        "admin",
        &["settings", "set", "key_lookups_per_day", "1000000"],
    );
    // The owner's own writes are trusted.
    s.sql(
        "owner",
        "INSERT INTO pools (name, created_at) VALUES ('westonly', 0);
         INSERT INTO pool_teams (pool_id, team_id)
             SELECT p.id, t.id FROM pools p, teams t WHERE p.name = 'westonly' AND t.name = 'west'",
    );
    Some(s)
}

impl Server {
    fn count(&self, sql: &str) -> i64 {
        self.sql("owner", sql).parse().expect("a count")
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

/// A leads CSV of `n` rows big enough for the bulk path (about 200 bytes a row), every
/// tenth row a copy of an earlier one; row 3's notes hold a tab, a backslash and a line
/// break (COPY escapes), rows divisible by 4 carry two tags.
fn leads(dir: &std::path::Path, name: &str, n: usize) -> (PathBuf, usize) {
    let mut s = String::from("姓名,公司,手机,邮箱,城市,来源,标签,备注\n");
    let mut seen = std::collections::HashSet::new();
    for i in 0..n {
        let k = if i % 10 == 9 { i / 2 } else { i };
        seen.insert(k);
        let notes = if k == 3 {
            "\"第一行\t制表\\反斜杠\n第二行\"".to_string()
        } else {
            format!("客户备注 {k}：需要回访，预算待定，关注产品演示与报价单的后续安排")
        };
        let tags = if k % 4 == 0 { "重点、展会" } else { "" };
        writeln!(
            s,
            "客户{k},测试公司{k}号有限公司,139{k:08},c{k}@example.com,杭州,展会,{tags},{notes}"
        )
        .unwrap();
    }
    let path = dir.join(name);
    std::fs::write(&path, s).unwrap();
    (path, seen.len())
}

#[test]
fn pg_import_bulk_goes_through_the_server_in_one_statement_and_reruns_find_every_row() {
    let Some(s) = server("bulk") else { return };
    let (file, unique) = leads(s.dir.path(), "leads.csv", 12_000);
    let f = file.to_str().unwrap();
    let before = s.count("SELECT max(seq) FROM audit_log");
    let v = s.json("li", &["import", f, "--force"]);
    assert_eq!(v["imported"], unique as i64, "{v}");
    assert_eq!(v["duplicates_in_file"], (12_000 - unique) as i64, "{v}");
    assert_eq!(
        s.count("SELECT count(*) FROM customers"),
        unique as i64,
        "every imported row is there"
    );
    // Stamped by the server: the importer, the server clock, pooled in the public pool.
    let li_id = s.count(&format!(
        "SELECT id FROM users WHERE login = '{}'",
        s.role("li")
    ));
    assert_eq!(
        s.count(&format!(
            "SELECT count(*) FROM customers WHERE created_by = {li_id} AND pool_id = 1 AND owner_id IS NULL
               AND pooled_at IS NOT NULL AND claimed_at IS NULL AND NOT locked
               AND abs(created_at - extract(epoch FROM now())::bigint) < 3600"
        )),
        unique as i64
    );
    // One audit row for the whole import, by the member: the app's summary (with the
    // file hash), its count and id range the server's.
    let audit = s.sql(
        "owner",
        &format!(
            "SELECT actor, action, after::jsonb ->> 'imported', after::jsonb ->> 'first_id',
                    after::jsonb ->> 'last_id', after::jsonb ? 'sha256'
               FROM audit_log WHERE seq > {before} AND entity IN ('customer', 'import')"
        ),
    );
    assert_eq!(
        audit,
        format!("{}|import|{unique}|1|{unique}|t", s.role("li"))
    );
    // Tags, contacts and COPY's escapes arrive intact.
    assert_eq!(
        s.count("SELECT count(*) FROM customer_tags"),
        2 * s.count("SELECT count(*) FROM customers WHERE tags <> ''")
    );
    assert_eq!(
        s.sql("owner", "SELECT notes FROM customers WHERE name = '客户3'"),
        // (the reader turns a tab in a cell into a space; COPY keeps the rest)
        "第一行 制表\\反斜杠\n第二行"
    );
    assert_eq!(
        s.sql(
            "owner",
            "SELECT phone || ' ' || phone_key || ' ' || email_key FROM customers WHERE name = '客户12'"
        ),
        "13900000012 8613900000012 c12@example.com"
    );
    // The ids came from the identity sequence (reserved ahead, so with a gap after them):
    // the next add gets a fresh one.
    let added = s.json(
        "admin",
        &["add", "--name", "之后", "--phone", "13800000001", "--pool"],
    );
    assert!(added["id"].as_i64().unwrap() > unique as i64, "{added}");
    // Running it again imports nothing, as the member and as the admin.
    let again = s.json("li", &["import", f, "--force"]);
    assert_eq!(again["imported"], 0, "{again}");
    assert_eq!(again["duplicates_in_database"], 12_000, "{again}");
    let again = s.json("admin", &["import", f, "--force"]);
    assert_eq!(again["imported"], 0, "{again}");
    assert_eq!(s.count("SELECT count(*) FROM customers"), unique as i64 + 1);
    // A pool the member's team does not see: refused, nothing lands.
    s.fails("li", &["import", f, "--force", "--pool", "westonly"], 5);
    // A viewer imports nothing.
    s.fails("viewer", &["import", f, "--force"], 4);
    assert_eq!(s.count("SELECT count(*) FROM customers"), unique as i64 + 1);
}

#[test]
fn pg_import_killed_halfway_leaves_nothing() {
    let Some(s) = server("kill") else { return };
    let (file, _) = leads(s.dir.path(), "big.csv", 60_000);
    let mut child = s
        .cmd("li")
        .args(["import", file.to_str().unwrap(), "--force"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn pool");
    // Wait until rows are being staged (the import's transaction is open), then kill it.
    let mut seen = false;
    for _ in 0..600 {
        let open = s.superuser(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = '{}' AND xact_start IS NOT NULL",
            s.role("li")
        ));
        if open != "0" {
            seen = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(seen, "the import never opened its transaction");
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().expect("kill");
    let status = child.wait().expect("wait");
    assert!(
        status.code().is_none(),
        "finished before the kill: {status}"
    );
    assert_eq!(s.count("SELECT count(*) FROM customers"), 0);
    assert_eq!(
        s.count("SELECT count(*) FROM audit_log WHERE action IN ('import', 'add', 'customer_add')"),
        0
    );
    // Run again to the end: every row once.
    let v = s.json("li", &["import", file.to_str().unwrap(), "--force"]);
    assert_eq!(
        s.count("SELECT count(*) FROM customers"),
        v["imported"].as_i64().unwrap()
    );
}

/// One staged row `k` in psql (the caller's session must have called import_stage
/// first), with an id the server reserved for this transaction (migration 12).
fn staged_row(k: i64, stage: &str, phone_key: &str) -> String {
    staged_row_at(
        "(pool_private.reserve_customer_ids(1))[1]",
        k,
        stage,
        phone_key,
    )
}

/// The same with the id `id` (an SQL expression).
fn staged_row_at(id: &str, k: i64, stage: &str, phone_key: &str) -> String {
    format!(
        "INSERT INTO pg_temp.pool_import (id, name, phone, phone_key, stage)
         VALUES ({id}, '暂存{k}', '139{k:08}', '{phone_key}', '{stage}');"
    )
}

#[test]
fn pg_import_staging_cannot_be_abused_from_psql() {
    let Some(s) = server("abuse") else {
        return;
    };
    let ids = |who: &str| {
        s.count(&format!(
            "SELECT id FROM users WHERE login = '{}'",
            s.role(who)
        ))
    };
    let (li, wang) = (ids("li"), ids("wang"));
    let stage = "SELECT pool_private.import_stage();";
    // COPY straight into customers: row level security refuses COPY FROM.
    let out = s.psql("li", "COPY customers (name, pool_id, stage) FROM STDIN");
    assert!(!out.status.success(), "COPY into customers was allowed");
    assert!(
        text(&out.stderr).contains("row-level security"),
        "{}",
        text(&out.stderr)
    );
    // No table of one's own in place of the staging table, and the server's own cannot
    // be changed.
    s.refused("li", "CREATE TEMP TABLE pool_import (id bigint)", "42501");
    s.refused(
        "li",
        &format!("{stage} ALTER TABLE pg_temp.pool_import ADD COLUMN owner_id bigint"),
        "42501",
    );
    s.refused(
        "li",
        &format!("{stage} CREATE TRIGGER t BEFORE INSERT ON pg_temp.pool_import FOR EACH ROW EXECUTE FUNCTION pool_private.same_identity()"),
        "42501",
    );
    // The staging table has no owner or pool column: the owner is an argument, checked.
    s.refused(
        "li",
        &format!("{stage} INSERT INTO pg_temp.pool_import (id, name, stage, owner_id) VALUES (1, 'x', 'lead', {li})"),
        "42703",
    );
    s.refused(
        "li",
        &format!(
            "{stage} {} SELECT pool_private.import_staged(1, {wang})",
            staged_row(1, "lead", "a")
        ),
        "PT403",
    );
    // A pool the member's team does not see.
    let westonly = s.count("SELECT id FROM pools WHERE name = 'westonly'");
    s.refused(
        "li",
        &format!(
            "{stage} {} SELECT pool_private.import_staged({westonly}, NULL)",
            staged_row(1, "lead", "a")
        ),
        "PT414",
    );
    // A won stage without a deal.
    s.refused(
        "li",
        &format!(
            "{stage} {} SELECT pool_private.import_staged(1, NULL)",
            staged_row(1, "customer", "a")
        ),
        "PT416",
    );
    // Ids the server did not reserve for this transaction: far ahead (which would push
    // the sequence to its end), or one reserved by an earlier call (id 1), which another
    // client could be inserting.
    s.refused(
        "li",
        &format!(
            "{stage} {} SELECT pool_private.import_staged(1, NULL)",
            staged_row_at("9000000", 1, "lead", "a")
        ),
        "PT422",
    );
    s.refused(
        "li",
        &format!(
            "{stage} {} {} SELECT pool_private.import_staged(1, NULL)",
            staged_row(1, "lead", "a"),
            staged_row_at("1", 3, "lead", "b")
        ),
        "PT422",
    );
    // A reserved-ids table of the member's own making (to plant ids the sequence has yet
    // to give): members may not create temporary tables at all; the server functions also
    // check the table is the owner's (import_ids_check) should that grant ever widen.
    s.refused(
        "li",
        "CREATE TEMP TABLE pool_import_ids (id bigint PRIMARY KEY);
         SELECT pool_private.reserve_customer_ids(1)",
        "42501",
    );
    s.refused(
        "li",
        &format!(
            "{stage} CREATE TEMP TABLE pool_import_ids (id bigint PRIMARY KEY);
             INSERT INTO pool_import_ids VALUES (9000000); {} SELECT pool_private.import_staged(1, NULL)",
            staged_row_at("9000000", 1, "lead", "a")
        ),
        "42501",
    );
    // Viewers reserve nothing; and at most 100,000 ids a call.
    s.refused(
        "viewer",
        "SELECT pool_private.reserve_customer_ids(1)",
        "42501",
    );
    s.refused(
        "li",
        "SELECT pool_private.reserve_customer_ids(100001)",
        "PT422",
    );
    // A viewer may not even call the functions.
    s.refused("viewer", stage, "42501");
    s.refused(
        "viewer",
        "SELECT pool_private.import_staged(1, NULL)",
        "42501",
    );
    assert_eq!(s.count("SELECT count(*) FROM customers"), 0);

    // max_owned for the member's own import, counted over the whole set.
    s.sql(
        "owner",
        "INSERT INTO pool_rules (pool_id, max_owned) VALUES (1, 2)
         ON CONFLICT (pool_id) DO UPDATE SET max_owned = 2",
    );
    let three = format!(
        "{stage} {}{}{} SELECT pool_private.import_staged(1, {li})",
        staged_row(1, "lead", "a"),
        staged_row(2, "lead", "b"),
        staged_row(3, "lead", "c")
    );
    s.refused("li", &three, "PT410");
    assert_eq!(s.count("SELECT count(*) FROM customers"), 0);
    let two = format!(
        "{stage} {}{} SELECT pool_private.import_staged(1, {li})",
        staged_row(1, "lead", "a"),
        staged_row(2, "lead", "b")
    );
    assert_eq!(s.sql("li", &two), "2");
    // Owned by the member, stamped by the server, audited once under their name.
    assert_eq!(
        s.count(&format!(
            "SELECT count(*) FROM customers WHERE owner_id = {li} AND created_by = {li}
               AND claimed_at IS NOT NULL AND pooled_at IS NULL"
        )),
        2
    );
    assert_eq!(
        s.sql(
            "owner",
            "SELECT actor || ' ' || action || ' ' || (after::jsonb ->> 'imported')
               FROM audit_log WHERE entity IN ('customer', 'import') ORDER BY seq"
        ),
        format!("{} import 2", s.role("li"))
    );
    // At the limit: one more is refused, even one at a time.
    s.refused(
        "li",
        &format!(
            "{stage} {} SELECT pool_private.import_staged(1, {li})",
            staged_row(3, "lead", "c")
        ),
        "PT410",
    );

    // The re-claim cooldown on copies: a copy of a customer li gave up.
    s.sql(
        "owner",
        "UPDATE pool_rules SET max_owned = 0, reclaim_cooldown_days = 7 WHERE pool_id = 1",
    );
    let first = s
        .count("SELECT id FROM customers WHERE name = '暂存1'")
        .to_string();
    s.ok("li", &["release", &first, "--reason", "不需要"]);
    s.refused(
        "li",
        &format!(
            "{stage} {} SELECT pool_private.import_staged(1, {li})",
            staged_row(3, "lead", "a")
        ),
        "PT412",
    );
    // Into the pool it is fine (the cooldown is about owning it again).
    assert_eq!(
        s.sql(
            "li",
            &format!(
                "{stage} {} SELECT pool_private.import_staged(1, NULL)",
                staged_row(3, "lead", "a")
            )
        ),
        "1"
    );
    assert_eq!(
        s.count("SELECT count(*) FROM customers WHERE name = '暂存3' AND owner_id IS NULL AND pooled_at IS NOT NULL"),
        1
    );
}

#[test]
fn pg_report_quality_counts_only_what_the_reader_may_read() {
    let Some(s) = server("quality") else {
        return;
    };
    let wang = s.count(&format!(
        "SELECT id FROM users WHERE login = '{}'",
        s.role("wang")
    ));
    let westonly = s.count("SELECT id FROM pools WHERE name = 'westonly'");
    // Public pool: 1 and 2 share a phone; 3 has no phone and no e-mail. The west-only
    // pool: 4 shares 1's phone, 5 shares an e-mail with 6, which wang owns.
    s.sql(
        "owner",
        &format!(
            "INSERT INTO customers (id, name, company, phone, phone_key, email, email_key, city, pool_id, owner_id, created_at, updated_at)
             VALUES (1, '甲', '一公司', '13900000001', '8613900000001', NULL, NULL, '杭州', 1, NULL, 0, 0),
                    (2, '乙', NULL, '13900000001', '8613900000001', NULL, NULL, NULL, 1, NULL, 0, 0),
                    (3, '丙', NULL, NULL, NULL, NULL, NULL, NULL, 1, NULL, 0, 0),
                    (4, '丁', NULL, '13900000001', '8613900000001', NULL, NULL, NULL, {westonly}, NULL, 0, 0),
                    (5, '戊', NULL, NULL, NULL, 'x@e.com', 'x@e.com', NULL, {westonly}, NULL, 0, 0),
                    (6, '己', '六公司', NULL, NULL, 'x@e.com', 'x@e.com', '深圳', 1, {wang}, 0, 0)"
        ),
    );
    let quality = |who: &str| s.json(who, &["report", "quality"]);
    let worst_ids = |v: &serde_json::Value| -> Vec<i64> {
        let mut ids: Vec<i64> = v["worst"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["id"].as_i64().unwrap())
            .collect();
        ids.sort();
        ids
    };
    // li (east) reads the public pool and owned customers: 1, 2, 3, 6; duplicated: 1
    // and 2 (phone, 4 being hidden changes nothing for them), 6 (its e-mail twin 5 is
    // hidden, but the copy exists).
    let li = quality("li");
    assert_eq!(li["customers"], 4, "{li}");
    assert_eq!(li["duplicate_rate_pct"], 75.0, "{li}");
    assert!(
        !worst_ids(&li).contains(&4) && !worst_ids(&li).contains(&5),
        "{li}"
    );
    // wang (west) reads all six, five of them duplicated.
    let wang_q = quality("wang");
    assert_eq!(wang_q["customers"], 6, "{wang_q}");
    assert_eq!(
        wang_q["duplicate_rate_pct"].as_f64().unwrap(),
        (5.0_f64 / 6.0 * 1000.0).round() / 10.0,
        "{wang_q}"
    );
    let admin = quality("admin");
    assert_eq!(admin["customers"], 6, "{admin}");
    assert_eq!(worst_ids(&admin), worst_ids(&wang_q));
    // The same numbers as migration 4's per-row definitions (readable_by, missing_mask,
    // one EXISTS per key), computed by the owner for li's team.
    let east = s.count("SELECT id FROM teams WHERE name = 'east'");
    let readable = format!("pool_private.readable_by('member', {east}, false, c)");
    assert_eq!(
        s.count(&format!(
            "SELECT count(*) FROM customers c WHERE {readable}"
        )),
        4
    );
    assert_eq!(
        s.count(&format!(
            "SELECT count(*) FROM customers c WHERE {readable}
               AND ((c.phone_key IS NOT NULL AND EXISTS (SELECT 1 FROM customers d WHERE d.phone_key = c.phone_key AND d.id <> c.id AND d.deleted_at IS NULL))
                 OR (c.email_key IS NOT NULL AND EXISTS (SELECT 1 FROM customers d WHERE d.email_key = c.email_key AND d.id <> c.id AND d.deleted_at IS NULL)))"
        )),
        3
    );
    // The masks li's report counts are the per-row ones over what li reads.
    let masks = s.sql(
        "li",
        "SELECT string_agg(mask || ':' || n, ',' ORDER BY mask) FROM pool_private.quality_masks()",
    );
    let expected = s.sql(
        "owner",
        &format!(
            "SELECT string_agg(m || ':' || n, ',' ORDER BY m) FROM (
                SELECT pool_private.missing_mask(c) AS m, count(*) AS n FROM customers c WHERE {readable} GROUP BY 1) x"
        ),
    );
    assert_eq!(masks, expected);
    // A deleted customer counts for nobody.
    s.sql("owner", "UPDATE customers SET deleted_at = 1 WHERE id = 2");
    let li = quality("li");
    assert_eq!(li["customers"], 3, "{li}");
    assert!(!worst_ids(&li).contains(&2), "{li}");
    // The stored mask (migration 12) is the row's own, and psql shows it to no member.
    assert_eq!(
        s.count(
            "SELECT count(*) FROM customers c WHERE c.quality_mask <> pool_private.missing_mask(c)"
        ),
        0
    );
    s.refused("li", "SELECT quality_mask FROM customers LIMIT 1", "42501");
    s.refused(
        "viewer",
        "SELECT count(*) FROM customers WHERE quality_mask = 0",
        "42501",
    );
}

/// `n` leads whose names, phones and e-mails share nothing with `leads()`'s (with an
/// address long enough that 10,000 rows or more take the bulk path).
fn other_leads(dir: &std::path::Path, name: &str, n: usize) -> PathBuf {
    let mut s = String::from("姓名,公司,手机,邮箱,城市,地址\n");
    for k in 0..n {
        writeln!(
            s,
            "别家{k},另一公司{k}号,137{k:08},o{k}@example.org,深圳,深圳市南山区科技园南区高新南一道{k}号创维大厦A座十九楼"
        )
        .unwrap();
    }
    let path = dir.join(name);
    std::fs::write(&path, s).unwrap();
    path
}

/// Waits until `who` has an open transaction (a running import has begun).
fn wait_for_transaction(s: &Server, who: &str) {
    for _ in 0..1500 {
        let out = s.su(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = '{}' AND xact_start IS NOT NULL",
            s.role(who)
        ));
        if out != "0" {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("{who}'s import never opened its transaction");
}

#[test]
fn pg_import_survives_adds_claims_and_another_import_meanwhile() {
    let Some(s) = server("meanwhile") else {
        return;
    };
    // Pooled customers to claim while the import runs.
    for k in 0..3 {
        s.ok(
            "admin",
            &[
                "add",
                "--name",
                &format!("先有{k}"),
                "--phone",
                &format!("1360000000{k}"),
                "--pool",
            ],
        );
    }
    let (big, unique) = leads(s.dir.path(), "big.csv", 100_000);
    let other = other_leads(s.dir.path(), "other.csv", 12_000);
    let big_import = s
        .cmd("li")
        .args([
            "import",
            big.to_str().unwrap(),
            "--force",
            "--format",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pool import");
    wait_for_transaction(&s, "li");
    let mut big_import = big_import;
    let mut added = Vec::new();
    let mut add = |k: usize| {
        let v = s.json(
            "admin",
            &[
                "add",
                "--name",
                &format!("同时{k}"),
                "--phone",
                &format!("1350000000{k}"),
                "--pool",
            ],
        );
        added.push(v["id"].as_i64().unwrap());
    };
    // The first add commits while the import's transaction is open.
    add(0);
    assert!(
        big_import.try_wait().expect("poll").is_none(),
        "the import finished before the first add: the test proves nothing (a bigger file is needed)"
    );
    // Meanwhile, in other processes: more adds (ids from the same sequence), claims, and
    // a second import.
    let other_import = s
        .cmd("wang")
        .args([
            "import",
            other.to_str().unwrap(),
            "--force",
            "--format",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the second import");
    for k in 1..5 {
        add(k);
    }
    s.ok("li", &["claim", "1"]);
    s.ok("wang", &["claim", "2"]);
    let big_out = big_import.wait_with_output().expect("wait");
    assert!(
        big_out.status.success(),
        "import failed: {}",
        text(&big_out.stderr)
    );
    let other_out = other_import.wait_with_output().expect("wait");
    assert!(
        other_out.status.success(),
        "second import failed: {}",
        text(&other_out.stderr)
    );
    let big_v: serde_json::Value = serde_json::from_slice(&big_out.stdout).expect("JSON");
    let other_v: serde_json::Value = serde_json::from_slice(&other_out.stdout).expect("JSON");
    assert_eq!(big_v["imported"], unique as i64, "{big_v}");
    assert_eq!(
        big_v["duplicates_in_file"],
        (100_000 - unique) as i64,
        "{big_v}"
    );
    assert_eq!(other_v["imported"], 12_000, "{other_v}");
    // Nothing lost, nothing twice: every row of both files, every add, once.
    assert_eq!(
        s.count("SELECT count(*) FROM customers"),
        3 + 5 + unique as i64 + 12_000
    );
    assert_eq!(
        s.count("SELECT count(*) FROM customers WHERE name LIKE '客户%'"),
        unique as i64
    );
    assert_eq!(
        s.count("SELECT count(DISTINCT phone_key) FROM customers WHERE name LIKE '客户%'"),
        unique as i64
    );
    for id in &added {
        assert_eq!(
            s.count(&format!(
                "SELECT count(*) FROM customers WHERE id = {id} AND name LIKE '同时%'"
            )),
            1
        );
    }
    // The report's ids are the rows' ids: the first line's, and the last line's (客户49999,
    // which no earlier line holds).
    let first = big_v["first_id"].as_i64().unwrap();
    let last = big_v["last_id"].as_i64().unwrap();
    assert_eq!(
        s.sql(
            "owner",
            &format!("SELECT name FROM customers WHERE id = {first}")
        ),
        "客户0"
    );
    assert_eq!(
        s.sql(
            "owner",
            &format!("SELECT name FROM customers WHERE id = {last}")
        ),
        "客户49999"
    );
    // The claims stand; the server audited each import once, with its own range.
    assert_eq!(
        s.count("SELECT count(*) FROM customers WHERE id IN (1, 2) AND owner_id IS NOT NULL"),
        2
    );
    assert_eq!(
        s.count("SELECT count(*) FROM audit_log WHERE action = 'import' AND entity = 'import'"),
        2
    );
    // Running it again finds every row in the database.
    let again = s.json("li", &["import", big.to_str().unwrap(), "--force"]);
    assert_eq!(again["imported"], 0, "{again}");
}

#[test]
fn pg_import_to_an_owner_is_one_set_with_its_history_and_limits() {
    let Some(s) = server("owner") else {
        return;
    };
    let li = s.count(&format!(
        "SELECT id FROM users WHERE login = '{}'",
        s.role("li")
    ));
    let (file, unique) = leads(s.dir.path(), "mine.csv", 12_000);
    let f = file.to_str().unwrap();
    // max_owned counted over the whole set: one too many refuses it all.
    s.sql(
        "owner",
        &format!(
            "INSERT INTO pool_rules (pool_id, max_owned) VALUES (1, {0})
             ON CONFLICT (pool_id) DO UPDATE SET max_owned = {0}",
            unique - 1
        ),
    );
    s.fails(
        "admin",
        &["import", f, "--force", "--owner", &s.role("li")],
        5,
    );
    assert_eq!(s.count("SELECT count(*) FROM customers"), 0);
    // A manager of another team, or a member for someone else: refused.
    s.fails(
        "wang",
        &["import", f, "--force", "--owner", &s.role("li")],
        4,
    );
    assert_eq!(s.count("SELECT count(*) FROM customers"), 0);
    s.sql(
        "owner",
        &format!("UPDATE pool_rules SET max_owned = {unique} WHERE pool_id = 1"),
    );
    let before = s.count("SELECT max(seq) FROM audit_log");
    let v = s.json("li", &["import", f, "--force", "--owner", &s.role("li")]);
    assert_eq!(v["imported"], unique as i64, "{v}");
    assert_eq!(
        s.count(&format!(
            "SELECT count(*) FROM customers WHERE owner_id = {li} AND claimed_at IS NOT NULL AND pooled_at IS NULL"
        )),
        unique as i64
    );
    // One statement: one server audit row, and the owner history of every row.
    assert_eq!(
        s.sql(
            "owner",
            &format!("SELECT action FROM audit_log WHERE seq > {before} AND entity = 'import'")
        ),
        "import"
    );
    assert_eq!(
        s.count(&format!(
            "SELECT count(*) FROM ownership_events WHERE event = 'import' AND to_user = {li} AND by_user = {li}"
        )),
        unique as i64
    );
    // At the limit now: even one more row is refused.
    let one = other_leads(s.dir.path(), "one.csv", 10_001);
    s.fails(
        "li",
        &[
            "import",
            one.to_str().unwrap(),
            "--force",
            "--owner",
            &s.role("li"),
        ],
        5,
    );
    assert_eq!(s.count("SELECT count(*) FROM customers"), unique as i64);
}
