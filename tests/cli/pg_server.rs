//! Server mode: the PostgreSQL server itself refuses what a member must not do. Each test
//! gets a fresh database (migrations of src/store/postgres/migrations/ loaded by its owner
//! role), an admin, a manager and a member in team east, a member in team west and a
//! viewer, all login roles; then it attacks as those roles with real `psql` processes.
//!
//! Runs only when POOL_TEST_PG holds libpq connection info for a superuser, e.g.
//! `eval "$(.ci/pg-cluster start)"` sets it; otherwise every test says it was skipped.
use std::process::{Child, Stdio};

use customer_pool::domain::audit::{Stored, Verifier};
use customer_pool::domain::mask::{mask_email, mask_in_text, mask_phone};

use crate::common::pg::Server;

/// A fresh database for test `name`, its migrations loaded by the owner with `psql`,
/// and the test users; None (skipped) without a cluster.
fn server(name: &str) -> Option<Server> {
    Server::migrated(
        "pt",
        name,
        &[
            ("admin", "hq", "admin"),
            ("boss", "east", "manager"),
            ("m1", "east", "member"),
            ("m2", "west", "member"),
            ("viewer", "east", "viewer"),
        ],
    )
}

impl Server {
    /// `n` new pooled customers in `pool` (as the admin, so not on fresh hold unless the
    /// rules say so); their ids.
    fn pooled(&self, n: usize, pool: i64) -> Vec<i64> {
        let out = self.sql(
            "admin",
            &format!(
                "INSERT INTO customers (name, phone, email, phone_key, email_key, pool_id)
                 SELECT '客户' || g, '1380013' || lpad(g::text, 4, '0'), 'c' || g || '@qq.com',
                        '861380013' || lpad(g::text, 4, '0'), 'c' || g || '@qq.com', {pool}
                   FROM generate_series((SELECT coalesce(max(id), 0) + 1 FROM customers),
                                        (SELECT coalesce(max(id), 0) + {n} FROM customers)) g
                 RETURNING id"
            ),
        );
        out.lines().map(|l| l.parse().expect("id")).collect()
    }

    fn rules(&self, set: &str) {
        self.sql(
            "admin",
            &format!("UPDATE pool_rules SET {set} WHERE pool_id = 1"),
        );
    }

    fn owner_of(&self, id: i64) -> String {
        self.sql(
            "",
            &format!(
                "SELECT coalesce(u.login, '-') FROM customers c LEFT JOIN users u ON u.id = c.owner_id WHERE c.id = {id}"
            ),
        )
    }

    fn claim_sql(id: i64) -> String {
        format!(
            "UPDATE customers SET owner_id = (SELECT pool_private.my_id()) WHERE id = {id} AND owner_id IS NULL AND deleted_at IS NULL"
        )
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// psql -At prints nothing for a plain UPDATE; the count comes from a CTE.
fn claim_count_sql(id: i64) -> String {
    format!(
        "WITH c AS ({} RETURNING 1) SELECT count(*) FROM c",
        Server::claim_sql(id)
    )
}

#[test]
fn claims_within_max_owned_and_the_daily_cap_pass_and_beyond_them_are_refused() {
    let Some(s) = server("limits") else {
        return;
    };
    let ids = s.pooled(6, 1);
    s.rules("max_owned = 2, daily_claims = 0");
    assert_eq!(s.sql("m1", &claim_count_sql(ids[0])), "1");
    assert_eq!(s.sql("m1", &claim_count_sql(ids[1])), "1");
    let e = s.refused("m1", &Server::claim_sql(ids[2]), "PT410");
    assert!(e.contains("limit reached"), "{e}");
    assert_eq!(s.owner_of(ids[2]), "-");
    // Won stages do not count unless count_won.
    s.sql(
        "admin",
        &format!(
            "UPDATE customers SET stage = 'customer' WHERE id = {}",
            ids[0]
        ),
    );
    assert_eq!(s.sql("m1", &claim_count_sql(ids[2])), "1");
    s.rules("count_won = true");
    s.refused("m1", &Server::claim_sql(ids[3]), "PT410");
    // The daily cap: three claims today already.
    s.rules("max_owned = 0, count_won = false, daily_claims = 3");
    s.refused("m1", &Server::claim_sql(ids[3]), "PT411");
    // Another member has their own cap.
    assert_eq!(s.sql("m2", &claim_count_sql(ids[3])), "1");
    // A manager's assignment is not a claim of the manager's, but it respects max_owned.
    s.rules("max_owned = 2, daily_claims = 0");
    s.refused(
        "boss",
        &format!(
            "UPDATE customers SET owner_id = {} WHERE id = {}",
            s.id("m1"),
            ids[4]
        ),
        "PT410",
    );
}

#[test]
fn the_cooldown_holds_for_the_customer_and_its_copies() {
    let Some(s) = server("cooldown") else {
        return;
    };
    let ids = s.pooled(3, 1);
    // A copy of ids[0]: same phone key.
    s.sql(
        "admin",
        &format!(
            "UPDATE customers SET phone_key = (SELECT phone_key FROM customers WHERE id = {}) WHERE id = {}",
            ids[0], ids[1]
        ),
    );
    s.rules("reclaim_cooldown_days = 7");
    assert_eq!(s.sql("m1", &claim_count_sql(ids[0])), "1");
    s.sql(
        "m1",
        &format!(
            "SELECT pool_private.intend('release', '不感兴趣'); UPDATE customers SET owner_id = NULL WHERE id = {}",
            ids[0]
        ),
    );
    s.refused("m1", &Server::claim_sql(ids[0]), "PT412");
    let e = s.refused("m1", &Server::claim_sql(ids[1]), "PT412");
    assert!(e.contains("which you gave up"), "{e}");
    // A member cannot move the clock: pool.sim_now is honoured for admins only.
    s.refused(
        "m1",
        &format!(
            "SET pool.sim_now = '9999999999'; {}",
            Server::claim_sql(ids[0])
        ),
        "PT412",
    );
    // Nor edit an owned customer into a copy of the one given up.
    assert_eq!(s.sql("m1", &claim_count_sql(ids[2])), "1");
    s.refused(
        "m1",
        &format!(
            "UPDATE customers SET phone_key = '8613800130001' WHERE id = {}",
            ids[2]
        ),
        "PT412",
    );
    // The release was recorded by the server, with the reason given.
    assert_eq!(
        s.sql(
            "admin",
            &format!("SELECT event || ':' || reason FROM ownership_events WHERE customer_id = {} AND event = 'release'", ids[0])
        ),
        "release:不感兴趣"
    );
    // Someone else may claim it.
    assert_eq!(s.sql("m2", &claim_count_sql(ids[0])), "1");
}

#[test]
fn a_fresh_customer_is_held_for_managers_and_an_invisible_pool_cannot_be_claimed() {
    let Some(s) = server("fresh") else {
        return;
    };
    s.rules("fresh_hold_hours = 24");
    let ids = s.pooled(2, 1);
    let e = s.refused("m1", &Server::claim_sql(ids[0]), "PT413");
    assert!(e.contains("only a manager can assign"), "{e}");
    // A manager assigns it within the team.
    s.sql(
        "boss",
        &format!(
            "UPDATE customers SET owner_id = {} WHERE id = {}",
            s.id("m1"),
            ids[0]
        ),
    );
    assert_eq!(s.owner_of(ids[0]), s.role("m1"));
    // …but not to another team's member.
    s.refused(
        "boss",
        &format!(
            "UPDATE customers SET owner_id = {} WHERE id = {}",
            s.id("m2"),
            ids[1]
        ),
        "PT403",
    );
    // A pool only team east sees.
    s.sql(
        "admin",
        "INSERT INTO pools (name, created_at) VALUES ('east-only', 0);
         INSERT INTO pool_rules (pool_id) SELECT id FROM pools WHERE name = 'east-only';
         INSERT INTO pool_teams SELECT p.id, t.id FROM pools p, teams t WHERE p.name = 'east-only' AND t.name = 'east'",
    );
    let pool: i64 = s
        .sql("admin", "SELECT id FROM pools WHERE name = 'east-only'")
        .parse()
        .unwrap();
    let hidden = s.pooled(1, pool)[0];
    // West does not even see it: the claim finds no row, the list shows nothing.
    assert_eq!(s.sql("m2", &claim_count_sql(hidden)), "0");
    assert_eq!(
        s.sql(
            "m2",
            &format!("SELECT count(*) FROM customers_v WHERE id = {hidden}")
        ),
        "0"
    );
    assert_eq!(s.owner_of(hidden), "-");
    // East does.
    assert_eq!(s.sql("m1", &claim_count_sql(hidden)), "1");
}

#[test]
fn members_cannot_write_to_other_owners_or_other_teams_customers() {
    let Some(s) = server("writes") else {
        return;
    };
    let ids = s.pooled(4, 1);
    let (m1, m2) = (s.id("m1"), s.id("m2"));
    assert_eq!(s.sql("m1", &claim_count_sql(ids[0])), "1");
    assert_eq!(s.sql("m2", &claim_count_sql(ids[1])), "1");
    // Another owner's customer: the row is not there for the writer.
    for sql in [
        format!("UPDATE customers SET name = 'hacked' WHERE id = {}", ids[0]),
        format!("UPDATE customers SET owner_id = {m2} WHERE id = {}", ids[0]),
        format!("UPDATE customers SET owner_id = NULL WHERE id = {}", ids[0]),
        format!("UPDATE customers SET locked = true WHERE id = {}", ids[0]),
    ] {
        assert_eq!(
            s.sql(
                "m2",
                &format!("WITH c AS ({sql} RETURNING 1) SELECT count(*) FROM c")
            ),
            "0",
            "{sql}"
        );
    }
    assert_eq!(s.owner_of(ids[0]), s.role("m1"));
    assert_eq!(
        s.sql(
            "admin",
            &format!("SELECT name FROM customers WHERE id = {}", ids[0])
        ),
        "客户1"
    );
    // A member cannot give their customer away, nor add one for someone else.
    s.refused(
        "m1",
        &format!("UPDATE customers SET owner_id = {m2} WHERE id = {}", ids[0]),
        "PT403",
    );
    s.refused(
        "m1",
        &format!("INSERT INTO customers (name, owner_id) VALUES ('x', {m2})"),
        "PT403",
    );
    // Nor log, plan or record deals on another owner's customer.
    s.refused(
        "m1",
        &format!("INSERT INTO interactions (customer_id, user_id, kind, summary, at, created_at) VALUES ({}, {m1}, 'call', 'x', 0, 0)", ids[1]),
        "PT403",
    );
    s.refused(
        "m1",
        &format!("INSERT INTO deals (customer_id, amount_minor, currency, on_date, created_at) VALUES ({}, 100, 'CNY', '2026-01-01', 0)", ids[1]),
        "PT403",
    );
    // A won stage needs a deal; server-kept columns stay the server's.
    s.refused(
        "m1",
        &format!("UPDATE customers SET stage = 'loyal' WHERE id = {}", ids[0]),
        "PT416",
    );
    s.sql(
        "m1",
        &format!("UPDATE customers SET last_contact_at = 99999999999, claimed_at = 99999999999, name = '新名字' WHERE id = {}", ids[0]),
    );
    assert_eq!(
        s.sql("admin", &format!("SELECT last_contact_at IS NULL, claimed_at < 9999999999, name FROM customers WHERE id = {}", ids[0])),
        "t|t|新名字"
    );
    // Logging a call on one's own customer is allowed and moves its contact clock (not into the future).
    s.sql(
        "m1",
        &format!("INSERT INTO interactions (customer_id, user_id, kind, summary, at, created_at) VALUES ({}, {m2}, 'call', '聊了报价', 99999999999, 0)", ids[0]),
    );
    assert_eq!(
        s.sql("admin", &format!("SELECT i.user_id = {m1}, c.last_contact_at = i.at, i.at < 9999999999 FROM interactions i JOIN customers c ON c.id = i.customer_id WHERE c.id = {}", ids[0])),
        "t|t|t"
    );
    // A manager works on their team's customers only.
    s.sql(
        "boss",
        &format!("UPDATE customers SET city = '杭州' WHERE id = {}", ids[0]),
    );
    assert_eq!(
        s.sql("boss", &format!("WITH c AS (UPDATE customers SET city = '深圳' WHERE id = {} RETURNING 1) SELECT count(*) FROM c", ids[1])),
        "0"
    );
    // A viewer writes nothing.
    s.refused(
        "viewer",
        &format!("UPDATE customers SET name = 'v' WHERE id = {}", ids[2]),
        "42501",
    );
    s.refused("viewer", &Server::claim_sql(ids[2]), "42501");
    // Locks: at most max_locked, and a locked customer is not released.
    s.rules("max_locked = 1");
    assert_eq!(s.sql("m1", &claim_count_sql(ids[2])), "1");
    s.sql(
        "m1",
        &format!("UPDATE customers SET locked = true WHERE id = {}", ids[0]),
    );
    s.refused(
        "m1",
        &format!("UPDATE customers SET locked = true WHERE id = {}", ids[2]),
        "PT415",
    );
    s.refused(
        "m1",
        &format!("UPDATE customers SET owner_id = NULL WHERE id = {}", ids[0]),
        "PT415",
    );
}

#[test]
fn contacts_of_pooled_and_other_teams_customers_are_masked() {
    let Some(s) = server("mask") else { return };
    let ids = s.pooled(3, 1);
    assert_eq!(s.sql("m1", &claim_count_sql(ids[0])), "1");
    assert_eq!(s.sql("m2", &claim_count_sql(ids[1])), "1");
    let row = |who: &str, id: i64| {
        s.sql(who, &format!("SELECT phone || ' ' || email || ' ' || coalesce(phone_key, '-') FROM customers_v WHERE id = {id}"))
    };
    let mine = "13800130001 c1@qq.com 8613800130001";
    assert_eq!(row("m1", ids[0]), mine);
    assert_eq!(row("m1", ids[1]), "138****0002 c***@qq.com -");
    assert_eq!(row("m1", ids[2]), "138****0003 c***@qq.com -");
    assert_eq!(row("viewer", ids[0]), "138****0001 c***@qq.com -");
    // A manager: pooled and own team unmasked, other teams masked.
    assert_eq!(row("boss", ids[0]), mine);
    assert_eq!(row("boss", ids[2]), "13800130003 c3@qq.com 8613800130003");
    assert_eq!(row("boss", ids[1]), "138****0002 c***@qq.com -");
    assert_eq!(row("admin", ids[1]), "13800130002 c2@qq.com 8613800130002");
    // The base table's contact columns are closed to all but admins, in any clause.
    for who in ["m1", "viewer", "boss"] {
        for sql in [
            "SELECT phone FROM customers",
            "SELECT * FROM customers",
            "SELECT id FROM customers WHERE phone LIKE '138%'",
            "SELECT id FROM customers WHERE email_key = 'c2@qq.com'",
            "SELECT id FROM customers ORDER BY notes",
        ] {
            s.refused(who, sql, "42501");
        }
    }
    // Nor through an UPDATE's RETURNING.
    s.refused(
        "m1",
        &format!(
            "UPDATE customers SET name = name WHERE id = {} RETURNING phone",
            ids[0]
        ),
        "42501",
    );
    // A masked value is what domain/mask.rs gives, byte for byte.
    let phones = [
        "13800138000",
        "138 0013 8000",
        "１３８００１３８０００",
        "+86 138 0013 8000",
        "8613800138000",
        "0086 138 0013 8000",
        "13800138000 转 123",
        "0571-88886666",
        "010-62345678",
        "+86 0571 8888 6666",
        "+44 20 7946 0958",
        "88886666",
        "12345",
        "1234",
        "n/a",
        "12345678901234567890",
        "",
        "   ",
        "(+86) 138-0013-8000 ext. 12",
        "138x",
        "x12",
        "13800138000#9",
        "138 0013 8000 分机号 7",
        "\u{3000}13800138000\u{3000}",
    ];
    let emails = [
        "lihua@qq.com",
        " 李华@163.com ",
        "a@b@qq.com",
        "@qq.com",
        "lihua",
        "",
        "Ab.C@Example.COM\u{3000}",
    ];
    let list = |xs: &[&str]| {
        xs.iter()
            .map(|x| format!("'{}'", x.replace('\'', "''")))
            .collect::<Vec<_>>()
            .join(",")
    };
    let sql_phones = s.sql(
        "m1",
        &format!("SELECT string_agg(pool_private.mask_phone(x), E'\\n' ORDER BY o) FROM unnest(ARRAY[{}]) WITH ORDINALITY AS t(x, o)", list(&phones)),
    );
    let rust_phones: Vec<String> = phones.iter().map(|p| mask_phone(p)).collect();
    assert_eq!(sql_phones, rust_phones.join("\n").trim());
    let sql_emails = s.sql(
        "m1",
        &format!("SELECT string_agg(pool_private.mask_email(x), E'\\n' ORDER BY o) FROM unnest(ARRAY[{}]) WITH ORDINALITY AS t(x, o)", list(&emails)),
    );
    let rust_emails: Vec<String> = emails.iter().map(|e| mask_email(e)).collect();
    assert_eq!(sql_emails, rust_emails.join("\n"));
    // And contacts inside free text: hand-picked cases, then mixed strings of digits in
    // both widths, separators, '@' and Chinese from a fixed seed.
    let mut texts: Vec<String> = [
        "老板手机：１３９１２３４５６７８，晚上打",
        "139/1234/5678",
        "２０２６／１２／０１",
        "boss＠corp.cn",
        "⑴3912345678",
        "Tel:(0571)8888-6666 / 139 1234 5678",
        "签约 2026-12-01, 2027/1/5, 2027.01.15",
        "write to x.y@corp.cn.",
        "139\n1234\t5678",
        "①②③④⑤⑥⑦",
        "lihua@qq.com-13800138000 或 lihua＠qq。com",
        "138_0013_8000 138—0013—8000 138·0013·8000 138～0013～8000",
        "㏠㏡㏢㏣㏤㏥㏦ 1",
        "¹³⁹1234567",
        "",
        // Session 11: commas and 、, addresses without a dot or with a Chinese name,
        // impossible dates, newer Unicode digits (outlined, U+1CCF0…).
        "139,1234,5678 139、1234、5678 139，1234，5678 139､1234､5678",
        "13,912,345,678 139-1234,5678 0571,8888,6666 座机 6234、5678。 2024,13912345678",
        "合同金额 1,234,567.00 元 12,345,678 报价 100,200,300 三档",
        "第1、2、3、4、5、6、7条 1, 2, 3, 4, 5, 6, 7 2024、2025、2026年 139, 1234",
        "签约 2026-12-01,2027-01-05",
        "邮箱 li@qqcom 或 li@localhost, a@b is short, @张三 a @ b",
        "李华@163.com 联系：李华＠１６３．ｃｏｍ，谢谢 ｌｉｈｕａ＠ｑｑ．ｃｏｍ Ünal@example.de",
        "6234-56-78 2023-02-29 6234-12-01 2024-02-29 2026-12-31 1999/1/1 2027.01.15 2100-01-01",
        "\u{1ccf1}\u{1ccf3}\u{1ccf9}\u{1ccf1}\u{1ccf2}\u{1ccf3}\u{1ccf4}\u{1ccf5}\u{1ccf6}\u{1ccf7}\u{1ccf8}",
        "张三 13987654321",
        // Session 12: an address's shown parts next to digits.
        "a@1２3\n4567 a@123-\n4567 li@qq.com 1234 li@host12 34 room 12 3li@qq.com",
        "2026/12/01abc@x.com 13800138000 1abc@qq.com 13800138000 abc@qq.com a@0０0\n0000",
        "x@1.2.3.4\n567 12 34 5a@b.c 6 7 8a@9 0 1 2 3 4 5 6@7@8 9",
        // Migration 28: addresses behind '@'s, and starting with + - . _ inside a run.
        "@lihua@qq.com cc:@lihua@qq.com ＠lihua＠qq.com 张总 cc:@@zhang.boss@corp.cn @张三 @@x",
        "12 +1lihua@qq.com 房间 3 -2wang@qq.com 13800138000 .9wang@qq.com 2026-12-01 _1boss@corp.cn",
        // Migration 30: a mobile in groups after commas and spaces.
        "138, 0013, 8000 138,  0013,  8000 138、 0013、 8000 138， 0013， 8000 138, 0013 8000",
        "1, 380, 013, 8000 1380, 0138, 000 电话：138, 0013, 8000，谢谢 123, 456, 7890",
        "第1, 2, 3, 4, 5, 6, 7, 8, 9, 10条 报价 100, 200, 300, 400 13, 800, 138, 0000",
        "138, 0013, 8000li@qq.com 138, 0013, 80001 +86 138, 0013, 8000 138, 0013, 8000, 1234",
        "报价 1200, 1500, 800 三档 数量 1, 500, 800, 1200 138 , 0013 , 8000 138 ,0013 ,8000",
        "138; 0013; 8000 1 38, 0013, 8000 120, 0013, 8000 138,\n0013, 8000 138, , 0013, 8000",
    ]
    .map(String::from)
    .to_vec();
    let alphabet: Vec<char> =
        "0123456789０１２３４５６７８９ 　/／-.()+@＠\n\tabxyz手机：，。q.c,、李"
            .chars()
            .collect();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..1000 {
        let len = (next() % 40) as usize;
        texts.push(
            (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect(),
        );
    }
    // Groups of digits after commas and spaces (migration 30's spaced mobiles).
    let groups: Vec<char> = "1111 ,、，0123456789a@".chars().collect();
    for _ in 0..600 {
        let len = 8 + (next() % 24) as usize;
        texts.push(
            (0..len)
                .map(|_| groups[(next() % groups.len() as u64) as usize])
                .collect(),
        );
    }
    let sql_texts = s.sql(
        "m1",
        &format!("SELECT json_agg(pool_private.mask_in_text(x) ORDER BY o) FROM unnest(ARRAY[{}]::text[]) WITH ORDINALITY AS t(x, o)",
            list(&texts.iter().map(String::as_str).collect::<Vec<_>>())),
    );
    let sql_texts: Vec<String> = serde_json::from_str(&sql_texts).expect("json");
    assert_eq!(sql_texts.len(), texts.len());
    for (t, masked) in texts.iter().zip(&sql_texts) {
        assert_eq!(masked, &mask_in_text(t), "{t:?}");
    }
    // Every character is read alike: Rust's NFKC (unicode-normalization) and the
    // server's (nfkc_newer, then PostgreSQL's normalize) agree on every code point, also
    // those newer than the server's Unicode.
    let server_nfkc = s.sql(
        "m1",
        "SELECT string_agg(cp || ':' || normalize(pool_private.nfkc_newer(chr(cp)), NFKC), E'\\n' ORDER BY cp)
           FROM generate_series(128, 1114111) cp
          WHERE cp NOT BETWEEN 55296 AND 57343
            AND normalize(pool_private.nfkc_newer(chr(cp)), NFKC) <> chr(cp)",
    );
    let rust_nfkc: Vec<String> = (128u32..0x11_0000)
        .filter_map(char::from_u32)
        .filter_map(|c| {
            let n: String =
                unicode_normalization::UnicodeNormalization::nfkc(c.to_string().as_str()).collect();
            (n != c.to_string()).then(|| format!("{}:{n}", c as u32))
        })
        .collect();
    let server_nfkc: std::collections::BTreeSet<&str> = server_nfkc.split('\n').collect();
    let rust_set: std::collections::BTreeSet<&str> = rust_nfkc.iter().map(String::as_str).collect();
    let differ: Vec<_> = rust_set
        .symmetric_difference(&server_nfkc)
        .take(10)
        .collect();
    assert!(differ.is_empty(), "NFKC differs: {differ:?}");
    assert_eq!(rust_nfkc.len(), server_nfkc.len());
}

#[test]
fn nobody_writes_the_audit_log_but_the_server() {
    let Some(s) = server("auditlog") else {
        return;
    };
    let ids = s.pooled(1, 1);
    assert_eq!(s.sql("m1", &claim_count_sql(ids[0])), "1");
    for who in ["m1", "viewer", "boss", "admin"] {
        for sql in [
            "INSERT INTO audit_log (seq, at, actor, action, entity, prev_hash, hash) VALUES (999, 0, 'x', 'claim', 'customer', '', 'h')",
            "UPDATE audit_log SET actor = 'someone'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
            "UPDATE audit_head SET seq = 0",
            "SELECT pool_private.append_audit('x', 'claim', 'customer', 1, NULL, NULL)",
            // The rows that wait for the commit (owner changes, follow-ups moved).
            "SELECT count(*) FROM pool_private.audit_defer",
            "DELETE FROM pool_private.work_moves",
            "INSERT INTO pool_private.defer_flush VALUES (txid_current())",
            "SELECT pool_private.defer_audit('x', 'claim', 'customer', 1, NULL, NULL, NULL)",
        ] {
            s.refused(who, sql, "42501");
        }
    }
    // Not even its owner rewrites it.
    s.refused("", "UPDATE audit_log SET actor = 'someone'", "PT800");
    s.refused("", "DELETE FROM audit_log", "PT800");
    s.refused("", "TRUNCATE audit_log", "PT800");
    // A client may note what the server cannot see (an export) — under its own name and the
    // server's clock — but not invent a data change.
    s.refused(
        "m1",
        &format!(
            "SELECT pool_private.audit_note('claim', 'customer', {}, NULL, '{{}}')",
            ids[0]
        ),
        "PT403",
    );
    s.sql(
        "m1",
        "SELECT pool_private.audit_note('export', 'customers', NULL, NULL, '{\"rows\":1}')",
    );
    assert_eq!(
        s.sql(
            "admin",
            "SELECT actor FROM audit_log WHERE action = 'export'"
        ),
        s.role("m1")
    );
    // A member reads no audit rows.
    s.refused("m1", "SELECT count(*) FROM audit_log", "42501");
    // The claim's own row was written by the server, in the claim's transaction.
    assert_eq!(
        s.sql("admin", &format!("SELECT actor || ' ' || before || ' ' || after FROM audit_log WHERE action = 'claim' AND entity_id = {}", ids[0])),
        format!("{} {{\"owner\":null,\"pool\":\"public\"}} {{\"owner\":\"{}\"}}", s.role("m1"), s.role("m1"))
    );
    // The client's own audit() call for a change the server audited in the same
    // transaction is not a second row: it answers with the server's row.
    let seq = s.sql(
        "m1",
        &format!(
            "UPDATE customers SET city = '上海' WHERE id = {id}; SELECT pool_private.audit_note('customer_edit', 'customer', {id}, NULL, NULL)",
            id = ids[0]
        ),
    );
    assert_eq!(
        s.sql(
            "admin",
            &format!(
                "SELECT count(*), max(seq) FROM audit_log WHERE action = 'customer_edit' AND entity_id = {}",
                ids[0]
            )
        ),
        format!("1|{seq}")
    );
    // A follow-up moved with psql in a transaction labelled as an owner change, with no
    // owner change, is still audited at commit, with its assignee before.
    let id = ids[0].to_string();
    s.ok(
        "m1",
        &["followup", "add", &id, "--due", "2030-01-01", "回访"],
    );
    s.sql(
        "boss",
        &format!(
            "SELECT pool_private.intend('assign'); UPDATE followups SET assignee_id = {} WHERE customer_id = {id}",
            s.id("boss")
        ),
    );
    let row = s.sql(
        "admin",
        "SELECT action || ' ' || before FROM audit_log WHERE entity = 'followup' ORDER BY seq DESC LIMIT 1",
    );
    assert_eq!(
        row,
        format!(
            "followup_move {{\"assignee\":\"{}\",\"status\":\"open\"}}",
            s.role("m1")
        )
    );
}

#[test]
fn members_change_no_rules_roles_or_history() {
    let Some(s) = server("rules") else {
        return;
    };
    let m1 = s.id("m1");
    for who in ["m1", "boss", "viewer"] {
        for sql in [
            "UPDATE pool_rules SET max_owned = 0".to_string(),
            "INSERT INTO pool_rule_overrides (pool_id, scope, value, recycle_no_contact_days) VALUES (1, 'stage', 'lead', 999)".to_string(),
            "INSERT INTO pools (name, created_at) VALUES ('mine', 0)".to_string(),
            "INSERT INTO pool_teams VALUES (1, 1)".to_string(),
            "UPDATE users SET role = 'admin'".to_string(),
            format!("INSERT INTO ownership_events (customer_id, event, from_user, at) VALUES (1, 'release', {m1}, 0)"),
            "UPDATE settings SET value = '1'".to_string(),
            "SELECT pool_private.add_user('evil', 'east', 'admin')".to_string(),
            format!("SELECT pool_private.set_user_role('{}', 'admin')", s.role(who)),
            format!("SELECT pool_private.deactivate_user('{}')", s.role("admin")),
            "CREATE TABLE public.mine (x int)".to_string(),
            "CREATE TEMP TABLE mine (x int)".to_string(),
            "CREATE FUNCTION pool_private.evil() RETURNS int LANGUAGE sql AS 'SELECT 1'".to_string(),
        ] {
            s.refused(who, &sql, "42501");
        }
    }
    assert_eq!(
        s.sql(
            "admin",
            "SELECT max_owned FROM pool_rules WHERE pool_id = 1"
        ),
        "0"
    );
    // An admin does change rules, and the change is audited.
    s.rules("max_owned = 9");
    assert_eq!(
        s.sql(
            "admin",
            "SELECT actor FROM audit_log WHERE action = 'rules_set'"
        ),
        s.role("admin")
    );
}

#[test]
fn set_role_and_session_tricks_get_nothing() {
    let Some(s) = server("setrole") else {
        return;
    };
    let ids = s.pooled(1, 1);
    s.refused("m1", "SET ROLE pool_admin", "42501");
    s.refused("m1", &format!("SET ROLE {}", s.role("m2")), "42501");
    s.refused("m1", &format!("SET ROLE {}", s.role("admin")), "42501");
    s.refused(
        "m1",
        &format!("SET SESSION AUTHORIZATION {}", s.role("admin")),
        "42501",
    );
    s.refused("m1", &format!("SET ROLE {}", s.role("owner")), "42501");
    // Its own group: allowed, but the group is nobody: it acts and sees nothing.
    s.refused(
        "m1",
        &format!("SET ROLE pool_member; {}", Server::claim_sql(ids[0])),
        "PT403",
    );
    assert_eq!(
        s.sql(
            "m1",
            "SET ROLE pool_member; SELECT count(*) FROM customers_v"
        ),
        "0"
    );
    // Settings that look like identity are not read as one.
    s.refused(
        "viewer",
        &format!(
            "SET pool.actor = '{}'; SET request.jwt.claim.sub = 'admin'; {}",
            s.role("admin"),
            Server::claim_sql(ids[0])
        ),
        "42501",
    );
    // Connecting as the group role itself is refused.
    let out = s
        .psql_cmd("pool_member")
        .args(["-c", "SELECT 1"])
        .output()
        .expect("psql");
    assert!(!out.status.success());
    assert_eq!(s.owner_of(ids[0]), "-");
}

#[test]
fn deactivation_returns_customers_and_ends_access_in_one_transaction() {
    let Some(s) = server("deactivate") else {
        return;
    };
    let ids = s.pooled(2, 1);
    assert_eq!(s.sql("m1", &claim_count_sql(ids[0])), "1");
    assert_eq!(s.sql("m1", &claim_count_sql(ids[1])), "1");
    s.refused(
        "boss",
        &format!("SELECT pool_private.deactivate_user('{}')", s.role("m1")),
        "42501",
    );
    assert_eq!(
        s.sql(
            "admin",
            &format!("SELECT pool_private.deactivate_user('{}')", s.role("m1"))
        ),
        "2"
    );
    assert_eq!(s.owner_of(ids[0]), "-");
    assert_eq!(s.owner_of(ids[1]), "-");
    assert_eq!(
        s.sql(
            "admin",
            "SELECT count(*) FROM ownership_events WHERE event = 'deactivate'"
        ),
        "2"
    );
    let out = s.psql("m1", "SELECT 1");
    assert!(!out.status.success(), "a deactivated user still connects");
    assert!(
        text(&out.stderr).contains("not permitted to log in"),
        "{}",
        text(&out.stderr)
    );
}

/// Spawns `psql` as `role` running each statement in its own transaction, not stopping
/// at refusals.
fn spawn_claims(s: &Server, who: &str, ids: &[i64]) -> Child {
    let mut c = s.psql_cmd(&s.role(who));
    c.args(["-v", "ON_ERROR_STOP=0"]);
    for id in ids {
        c.arg("-c").arg(claim_count_sql(*id));
    }
    c.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn psql")
}

#[test]
fn racing_claims_from_many_processes_never_double_own_or_beat_a_limit() {
    let Some(s) = server("race") else { return };
    let ids = s.pooled(24, 1);
    s.rules("max_owned = 5");
    // 12 processes, half as m1 and half as m2, all going for the same customers in
    // different orders.
    let mut children = Vec::new();
    for p in 0..12 {
        let mut order = ids.clone();
        order.rotate_left(p * 2);
        if p % 3 == 0 {
            order.reverse();
        }
        children.push(spawn_claims(
            &s,
            if p % 2 == 0 { "m1" } else { "m2" },
            &order,
        ));
    }
    let mut won = 0;
    for c in children {
        let out = c.wait_with_output().expect("psql");
        won += text(&out.stdout).lines().filter(|l| *l == "1").count();
    }
    let m1 = s.id("m1");
    let m2 = s.id("m2");
    assert_eq!(won, 10, "claims that reported success");
    assert_eq!(
        s.sql(
            "admin",
            &format!("SELECT count(*) FROM customers WHERE owner_id = {m1}")
        ),
        "5"
    );
    assert_eq!(
        s.sql(
            "admin",
            &format!("SELECT count(*) FROM customers WHERE owner_id = {m2}")
        ),
        "5"
    );
    // Every claim event is of a customer its claimer owns: no customer was claimed twice.
    assert_eq!(
        s.sql("admin", "SELECT count(*), count(DISTINCT customer_id) FROM ownership_events WHERE event = 'claim'"),
        "10|10"
    );
    assert_eq!(
        s.sql("admin", "SELECT count(*) FROM ownership_events e JOIN customers c ON c.id = e.customer_id WHERE e.event = 'claim' AND c.owner_id IS DISTINCT FROM e.to_user"),
        "0"
    );

    // The daily cap under the same race: exactly 3 of m1's 8 racing claims pass.
    s.rules("max_owned = 0, daily_claims = 13");
    let fresh = s.pooled(8, 1);
    let children: Vec<Child> = fresh
        .iter()
        .map(|id| spawn_claims(&s, "m1", &[*id]))
        .collect();
    for c in children {
        c.wait_with_output().expect("psql");
    }
    assert_eq!(
        s.sql(
            "admin",
            &format!(
                "SELECT count(*) FROM ownership_events WHERE event = 'claim' AND to_user = {m1}"
            )
        ),
        "13"
    );
    audit_chain_verifies(&s);
}

/// The server's audit rows, re-chained by domain::audit: every hash matches.
fn audit_chain_verifies(s: &Server) -> Verifier {
    let json = s.sql(
        "admin",
        "SELECT coalesce(json_agg(json_build_array(seq, at, actor, action, entity, entity_id, before, after, os_user, sim_at, prev_hash, hash) ORDER BY seq), '[]') FROM audit_log",
    );
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).expect("audit json");
    let mut v = Verifier::default();
    for r in &rows {
        let st = |i: usize| r[i].as_str().map(String::from);
        let row = Stored {
            seq: r[0].as_i64().expect("seq"),
            at: r[1].as_i64().expect("at"),
            actor: st(2).expect("actor"),
            action: st(3).expect("action"),
            entity: st(4).expect("entity"),
            entity_id: r[5].as_i64(),
            before: st(6),
            after: st(7),
            os_user: st(8),
            sim_at: r[9].as_i64(),
            prev_hash: st(10).expect("prev"),
            hash: st(11).expect("hash"),
            checked: None,
        };
        v.push(&row).unwrap_or_else(|e| panic!("{e}: {row:?}"));
    }
    assert!(v.rows > 0);
    assert_eq!(
        s.sql("admin", "SELECT seq || ' ' || hash FROM audit_head"),
        format!("{} {}", v.head_seq, v.head_hash)
    );
    v
}

#[test]
fn the_servers_audit_chain_is_the_one_rust_computes() {
    let Some(s) = server("chain") else {
        return;
    };
    let ids = s.pooled(2, 1);
    assert_eq!(s.sql("m1", &claim_count_sql(ids[0])), "1");
    // Text that JSON must escape: quotes, backslashes, control characters, CJK, emoji.
    s.sql(
        "m1",
        &format!(
            "UPDATE customers SET name = E'王\"伟\\\\ \\n\\t\\u0001 😀', tags = 'vip,展会', phone = '+86 138 0013 8000' WHERE id = {}",
            ids[0]
        ),
    );
    // An admin working under a simulated clock: sim_at joins the hashed row.
    s.sql(
        "admin",
        &format!(
            "SET pool.sim_now = '1900000000'; UPDATE customers SET city = '杭州' WHERE id = {}",
            ids[1]
        ),
    );
    assert_eq!(
        s.sql(
            "admin",
            &format!(
                "SELECT count(*) FROM audit_log WHERE sim_at = 1900000000 AND entity_id = {}",
                ids[1]
            )
        ),
        "1"
    );
    s.sql(
        "m1",
        &format!("SELECT pool_private.intend('release', E'价格\\\\太高 \"no\"'); UPDATE customers SET owner_id = NULL WHERE id = {}", ids[0]),
    );
    let v = audit_chain_verifies(&s);
    assert!(v.rows >= 10, "{}", v.rows);
    // Masked in the trail as app::audit_value does.
    assert!(s
        .sql(
            "admin",
            &format!(
                "SELECT after FROM audit_log WHERE action = 'customer_edit' AND entity_id = {}",
                ids[0]
            )
        )
        .contains("\"phone\":\"+86 138****8000\""));
}

/// Tags are checked once per INSERT statement (migration 7), with the rule of the row
/// guard they replace: a member tags only their own customers, a manager their team's and
/// pooled ones, a viewer nothing; one refused row refuses the whole statement. Removing
/// a tag keeps the row guard.
#[test]
fn tags_only_on_customers_one_may_work_on_even_in_bulk() {
    let Some(s) = server("tags") else {
        return;
    };
    let ids = s.pooled(4, 1);
    let (mine, theirs, pooled, gone) = (ids[0], ids[1], ids[2], ids[3]);
    assert_eq!(s.sql("m1", &claim_count_sql(mine)), "1");
    assert_eq!(s.sql("m2", &claim_count_sql(theirs)), "1");
    s.sql(
        "admin",
        &format!("UPDATE customers SET deleted_at = 1 WHERE id = {gone}"),
    );
    let tag = |id: i64, t: &str| {
        format!("INSERT INTO customer_tags (tag, customer_id) VALUES ('{t}', {id})")
    };
    let count = |t: &str| {
        s.sql(
            "",
            &format!("SELECT count(*) FROM customer_tags WHERE tag = '{t}'"),
        )
    };

    s.sql("m1", &tag(mine, "vip"));
    let e = s.refused("m1", &tag(theirs, "vip"), "PT403");
    assert!(
        e.contains(&format!("customer {theirs} is not yours")),
        "{e}"
    );
    s.refused("m1", &tag(pooled, "vip"), "PT403");
    let e = s.refused("m1", &tag(gone, "vip"), "PT404");
    assert!(e.contains(&format!("customer {gone} not found")), "{e}");
    // An id that never existed fails the foreign key before the statement's check.
    s.refused("m1", &tag(999_999, "vip"), "23503");
    // Many rows at once: one not the member's refuses them all.
    s.refused(
        "m1",
        &format!(
            "INSERT INTO customer_tags (tag, customer_id)
             SELECT 'bulk' || g, {mine} FROM generate_series(1, 500) g
             UNION ALL SELECT 'bulk1', {theirs}"
        ),
        "PT403",
    );
    assert_eq!(count("bulk1"), "0");
    s.sql(
        "m1",
        &format!(
            "INSERT INTO customer_tags (tag, customer_id)
             SELECT 'bulk' || g, {mine} FROM generate_series(1, 500) g"
        ),
    );
    assert_eq!(count("bulk500"), "1");
    // Managers: their team's customers and pooled ones, not another team's.
    s.sql("boss", &tag(mine, "east"));
    s.sql("boss", &tag(pooled, "east"));
    s.refused("boss", &tag(theirs, "east"), "PT403");
    // Viewers have no INSERT at all; admins tag anyone's.
    s.refused("viewer", &tag(mine, "v"), "42501");
    s.sql("admin", &tag(theirs, "vip"));
    assert_eq!(count("vip"), "2");
    // Removing: still one row at a time, by the same rule.
    s.refused(
        "m1",
        &format!("DELETE FROM customer_tags WHERE customer_id = {theirs}"),
        "PT403",
    );
    s.sql(
        "m1",
        &format!("DELETE FROM customer_tags WHERE customer_id = {mine} AND tag = 'vip'"),
    );
    assert_eq!(count("vip"), "1");
}

/// `pool_private.claim(ids)` as `who`: the ids it claimed, in order.
fn claim_at_once(s: &Server, who: &str, ids: &[i64]) -> Vec<i64> {
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    s.sql(
        who,
        &format!(
            "SELECT id FROM pool_private.claim('{{{}}}') WHERE claimed",
            list.join(",")
        ),
    )
    .lines()
    .map(|l| l.parse().expect("id"))
    .collect()
}

#[test]
fn the_claim_function_claims_only_what_the_rules_allow_and_only_for_the_caller() {
    let Some(s) = server("claimfn") else {
        return;
    };
    let ids = s.pooled(8, 1);
    let m1 = s.id("m1");
    // Limits: max_owned 2 stops the third; nothing is written for a refused id.
    s.rules("max_owned = 2");
    assert_eq!(
        claim_at_once(&s, "m1", &[ids[0], ids[1], ids[2]]),
        [ids[0], ids[1]]
    );
    assert_eq!(s.owner_of(ids[2]), "-");
    // Already owned (by m1) and unknown ids are not claimed for m2; m2 claims only for m2.
    assert_eq!(
        claim_at_once(&s, "m2", &[ids[0], 999_999, ids[3]]),
        [ids[3]]
    );
    assert_eq!(s.owner_of(ids[0]), s.role("m1"));
    assert_eq!(s.owner_of(ids[3]), s.role("m2"));
    // The daily cap (4 claims so far today, 2 of them m1's).
    s.rules("max_owned = 0, daily_claims = 3");
    assert_eq!(claim_at_once(&s, "m1", &[ids[4], ids[5]]), [ids[4]]);
    // Fresh hold and cooldown, as the guard decides them.
    s.rules("daily_claims = 0, fresh_hold_hours = 24");
    let fresh = s.pooled(1, 1)[0];
    assert!(claim_at_once(&s, "m1", &[fresh]).is_empty());
    s.rules("fresh_hold_hours = 0, reclaim_cooldown_days = 7");
    s.sql(
        "m1",
        &format!(
            "SELECT pool_private.intend('release', 'no'); UPDATE customers SET owner_id = NULL WHERE id = {}",
            ids[4]
        ),
    );
    assert!(claim_at_once(&s, "m1", &[ids[4]]).is_empty());
    // A member cannot move the clock past a cooldown: pool.sim_now is for admins.
    assert!(s
        .sql(
            "m1",
            &format!(
                "SET pool.sim_now = '9999999999'; SELECT count(*) FROM pool_private.claim('{{{}}}') WHERE claimed",
                ids[4]
            ),
        )
        .ends_with('0'));
    // Nor claim from a pool its team does not see (and learns nothing about it).
    s.sql(
        "admin",
        "INSERT INTO pools (name, created_at) VALUES ('east-only', 0);
         INSERT INTO pool_rules (pool_id) SELECT id FROM pools WHERE name = 'east-only';
         INSERT INTO pool_teams SELECT p.id, t.id FROM pools p, teams t WHERE p.name = 'east-only' AND t.name = 'east'",
    );
    let pool: i64 = s
        .sql("admin", "SELECT id FROM pools WHERE name = 'east-only'")
        .parse()
        .expect("pool id");
    let hidden = s.pooled(1, pool)[0];
    assert!(claim_at_once(&s, "m2", &[hidden]).is_empty());
    assert_eq!(claim_at_once(&s, "m1", &[hidden]), [hidden]);
    // Viewers, and roles outside pool's groups, may not call it at all.
    s.refused(
        "viewer",
        &format!("SELECT * FROM pool_private.claim('{{{}}}')", ids[6]),
        "42501",
    );
    s.superuser(&format!("CREATE ROLE {}_stranger LOGIN", s.db));
    let out = s
        .psql_cmd(&format!("{}_stranger", s.db))
        .arg("-c")
        .arg(format!(
            "SELECT * FROM pool_private.claim('{{{}}}')",
            ids[6]
        ))
        .output()
        .expect("psql");
    s.superuser(&format!("DROP ROLE {}_stranger", s.db));
    assert!(!out.status.success());
    assert_eq!(s.owner_of(ids[6]), "-");
    // SET ROLE to the group changes nothing: the actor is the login role.
    assert_eq!(
        s.sql(
            "m1",
            &format!(
                "SET ROLE pool_member; SELECT id FROM pool_private.claim('{{{}}}') WHERE claimed",
                ids[6]
            )
        ),
        ids[6].to_string()
    );
    assert_eq!(s.owner_of(ids[6]), s.role("m1"));
    // The marker does not outlive the call: the guard is back for the next statement.
    s.rules("reclaim_cooldown_days = 0, max_owned = 1");
    s.refused(
        "m1",
        &format!(
            "SELECT count(*) FROM pool_private.claim('{{{}}}'); {}",
            ids[7],
            Server::claim_sql(ids[7])
        ),
        "PT410",
    );
    // Every claim it made has its owner history row and its audit row, chained.
    assert_eq!(
        s.sql(
            "admin",
            &format!(
                "SELECT count(*) FROM ownership_events WHERE event = 'claim' AND to_user = {m1}"
            )
        ),
        s.sql(
            "admin",
            &format!(
                "SELECT count(*) FROM audit_log WHERE action = 'claim' AND actor = '{}'",
                s.role("m1")
            )
        )
    );
    assert_eq!(
        s.sql(
            "admin",
            &format!("SELECT before || ' ' || after FROM audit_log WHERE action = 'claim' AND entity_id = {}", ids[0])
        ),
        format!("{{\"owner\":null,\"pool\":\"public\"}} {{\"owner\":\"{}\"}}", s.role("m1"))
    );
    audit_chain_verifies(&s);
}

/// Migration 13: in a pool whose rules cannot refuse, the claim function skips
/// check_claim, yet still refuses a pool the caller's team does not see, and writes
/// what the guarded path writes (recycle date, follow-up, history, audit).
#[test]
fn the_claim_functions_short_path_refuses_hidden_pools_and_writes_what_the_guard_does() {
    let Some(s) = server("claimshort") else {
        return;
    };
    // Public: no limit, a recycle rule and a follow-up rule on claim.
    s.rules("max_owned = 0, daily_claims = 0, reclaim_cooldown_days = 0, fresh_hold_hours = 0, recycle_no_contact_days = 30");
    s.sql(
        "admin",
        "INSERT INTO followup_rules VALUES (1, 'claim', '', 'call back', 2);
         INSERT INTO pools (name, created_at) VALUES ('east-open', 0);
         INSERT INTO pool_rules (pool_id) SELECT id FROM pools WHERE name = 'east-open';
         INSERT INTO pool_teams SELECT p.id, t.id FROM pools p, teams t WHERE p.name = 'east-open' AND t.name = 'east'",
    );
    let ids = s.pooled(2, 1);
    // One through the function, one through the guarded UPDATE: the same stamps.
    assert_eq!(claim_at_once(&s, "m1", &[ids[0]]), [ids[0]]);
    assert_eq!(s.sql("m1", &claim_count_sql(ids[1])), "1");
    let facts = |id: i64| {
        s.sql(
            "admin",
            &format!(
                "SELECT c.recycle_due_at IS NOT NULL, c.recycle_due_at - c.claimed_at, c.locked,
                        (SELECT count(*) FROM followups f WHERE f.customer_id = c.id AND f.action = 'call back'),
                        (SELECT count(*) FROM ownership_events e WHERE e.customer_id = c.id AND e.event = 'claim'),
                        (SELECT count(*) FROM audit_log a WHERE a.entity = 'customer' AND a.entity_id = c.id AND a.action = 'claim')
                   FROM customers c WHERE c.id = {id}"
            ),
        )
    };
    assert_eq!(facts(ids[0]), facts(ids[1]));
    assert!(facts(ids[0]).starts_with("t|"), "{}", facts(ids[0]));
    // A pool without limits that m2's team (west) does not see: not claimed, untouched.
    let pool: i64 = s
        .sql("admin", "SELECT id FROM pools WHERE name = 'east-open'")
        .parse()
        .expect("pool id");
    let hidden = s.pooled(1, pool)[0];
    assert!(claim_at_once(&s, "m2", &[hidden]).is_empty());
    assert_eq!(s.owner_of(hidden), "-");
    assert_eq!(claim_at_once(&s, "m1", &[hidden]), [hidden]);
    // No follow-up rule there, no recycle rule: neither is written.
    assert_eq!(
        s.sql(
            "admin",
            &format!(
                "SELECT c.recycle_due_at IS NULL, (SELECT count(*) FROM followups f WHERE f.customer_id = c.id)
                   FROM customers c WHERE c.id = {hidden}"
            )
        ),
        "t|0"
    );
    audit_chain_verifies(&s);
}

#[test]
fn racing_claim_functions_never_double_own_or_beat_a_limit() {
    let Some(s) = server("claimrace") else {
        return;
    };
    let ids = s.pooled(24, 1);
    s.rules("max_owned = 5");
    // 12 processes, half m1 and half m2, each claiming all 24 at once in its own order.
    let children: Vec<Child> = (0..12)
        .map(|p| {
            let mut order = ids.clone();
            order.rotate_left(p * 2);
            if p % 3 == 0 {
                order.reverse();
            }
            let list: Vec<String> = order.iter().map(i64::to_string).collect();
            s.psql_cmd(&s.role(if p % 2 == 0 { "m1" } else { "m2" }))
                .args(["-v", "ON_ERROR_STOP=0", "-c"])
                .arg(format!(
                    "SELECT count(*) FROM pool_private.claim('{{{}}}') WHERE claimed",
                    list.join(",")
                ))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn psql")
        })
        .collect();
    let mut won = 0;
    for c in children {
        let out = c.wait_with_output().expect("psql");
        // A deadlock victim claimed nothing (its transaction rolled back).
        won += text(&out.stdout)
            .lines()
            .filter_map(|l| l.parse::<usize>().ok())
            .sum::<usize>();
    }
    assert_eq!(won, 10, "claims that reported success");
    for who in ["m1", "m2"] {
        assert_eq!(
            s.sql(
                "admin",
                &format!(
                    "SELECT count(*) FROM customers WHERE owner_id = {}",
                    s.id(who)
                )
            ),
            "5"
        );
    }
    assert_eq!(
        s.sql("admin", "SELECT count(*), count(DISTINCT customer_id) FROM ownership_events WHERE event = 'claim'"),
        "10|10"
    );
    assert_eq!(
        s.sql("admin", "SELECT count(*) FROM ownership_events e JOIN customers c ON c.id = e.customer_id WHERE e.event = 'claim' AND c.owner_id IS DISTINCT FROM e.to_user"),
        "0"
    );
    audit_chain_verifies(&s);
}

#[test]
fn whole_key_lookups_are_counted_so_nobody_unmasks_the_pool_by_trying_every_number() {
    let Some(s) = server("keylookups") else {
        return;
    };
    let ids = s.pooled(3, 1);
    // A member finds a pooled customer by its whole phone, in a batch or one at a time,
    // and learns nothing but the id and the keys they sent.
    let found = s.sql(
        "m1",
        "SELECT id || ' ' || coalesce(phone_key, '-') || ' ' || coalesce(email_key, '-') FROM pool_private.whole_key_matches(ARRAY['8613800130001', '8613800139999'], ARRAY['c2@qq.com'])  ORDER BY id",
    );
    assert_eq!(
        found,
        format!("{} 8613800130001 -\n{} - c2@qq.com", ids[0], ids[1])
    );
    assert_eq!(
        s.sql(
            "m1",
            "SELECT pool_private.whole_key_match('8613800130003', NULL)"
        ),
        ids[2].to_string()
    );
    // Trying every number in a range is refused past the daily quota (the 3 keys above
    // and 1 lookup count too): one statement stops at the quota, whose lookups stay
    // counted though the statement failed; a batch past it is refused before counting.
    s.sql(
        "admin",
        "INSERT INTO settings (key, value) VALUES ('key_lookups_per_day', '10')",
    );
    let err = s.refused(
        "m1",
        "SELECT count(*) FROM generate_series(13800130000, 13800130100) g, pool_private.whole_key_match('86' || g, NULL)",
        "PT409",
    );
    assert!(err.contains("11/10 today"), "{err}");
    s.refused(
        "m1",
        "SELECT count(*) FROM pool_private.whole_key_matches(ARRAY['8613800130001'], '{}')",
        "PT409",
    );
    let err = s.fails("m1", &["list", "--search", "13800130003"], 5);
    assert!(err.contains("key_lookups_per_day"), "{err}");
    // Rolling back does not give the lookups back: the count is not transactional.
    let five = "SELECT count(*) FROM pool_private.whole_key_matches(ARRAY['8613800130001', '8613800130002', '8613800130003', '8613800130004', '8613800130005'], '{}')";
    for _ in 0..2 {
        s.sql("m2", &format!("BEGIN; {five}; ROLLBACK;"));
    }
    s.refused("m2", &format!("BEGIN; {five}; ROLLBACK;"), "PT409");
    s.refused(
        "m2",
        &format!("BEGIN; SAVEPOINT a; {five}; ROLLBACK TO a; COMMIT;"),
        "PT409",
    );
    // Admins are not counted.
    assert_eq!(
        s.sql("admin", "SELECT count(*) FROM generate_series(1, 50) g, pool_private.whole_key_match('8613800130003', NULL)"),
        "50"
    );
    // `pool report access` shows who probed how much today (rolled back or not),
    // flagged from 1,000 lookups: the admin sees everyone, a manager their team (m2 is
    // in west), a member nothing.
    s.sql(
        "admin",
        "UPDATE settings SET value = '100000' WHERE key = 'key_lookups_per_day'",
    );
    s.sql(
        "m2",
        "SELECT count(*) FROM pool_private.whole_key_matches(ARRAY(SELECT '86' || g FROM generate_series(13900000000, 13900001499) g), '{}')",
    );
    let access = s.json("admin", &["report", "access"]);
    let row = |v: &serde_json::Value, who: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|r| r["user"] == s.role(who))
            .cloned()
    };
    let m1 = row(&access, "m1").expect("m1's lookups");
    assert_eq!(m1["key_lookups"], 10, "{access}");
    assert_eq!(m1["flagged"], false, "{access}");
    let m2 = row(&access, "m2").expect("m2's lookups");
    assert_eq!(m2["key_lookups"], 1510, "{access}");
    assert_eq!(m2["flagged"], true, "{access}");
    let seen_by_boss = s.json("boss", &["report", "access"]);
    assert!(row(&seen_by_boss, "m1").is_some(), "{seen_by_boss}");
    assert!(row(&seen_by_boss, "m2").is_none(), "{seen_by_boss}");
    s.fails("m1", &["report", "access"], 4);
    s.refused(
        "m1",
        "SELECT * FROM pool_private.key_lookup_counts(0, 9999999999)",
        "42501",
    );
    // Nobody but the owner reads or resets the counts.
    let m1_id = s.id("m1");
    for who in ["m1", "boss", "viewer", "admin"] {
        s.refused(who, "SELECT * FROM pool_private.key_lookups", "42501");
        s.refused(who, "DELETE FROM pool_private.key_lookups", "42501");
        s.refused(
            who,
            &format!("SELECT setval('pool_private.key_lookups_{m1_id}', 0)"),
            "42501",
        );
        s.refused(
            who,
            &format!("SELECT pool_private.key_lookups_today({m1_id}, 0)"),
            "42501",
        );
        s.refused(
            who,
            "SELECT pool_private.count_key_lookups(true, 'admin', 1, 1, -100)",
            "42501",
        );
    }
}

/// The residual of the daily quota: a masked phone (138****0001) shows all but 4 digits,
/// so trying the 10,000 numbers that fit unmasks it. Lookups are also counted per
/// bucket of masked shapes, so a member cannot pile a day's quota onto one shape, while
/// lookups spread over many shapes (an import) are not refused.
#[test]
fn trying_the_hidden_digits_of_one_masked_phone_is_refused_long_before_the_daily_quota() {
    let Some(s) = server("keyshapes") else {
        return;
    };
    s.pooled(2, 1);
    // quota 2,000: a bucket takes 2000/64 + 4·sqrt(2000/64) + 10 = 64 a day
    s.sql(
        "admin",
        "INSERT INTO settings (key, value) VALUES ('key_lookups_per_day', '2000')",
    );
    // 1,000 numbers of many shapes, in one batch: fine.
    s.sql(
        "m1",
        "SELECT count(*) FROM pool_private.whole_key_matches(ARRAY(SELECT '8613' || (700000000 + g * 7919) FROM generate_series(1, 1000) g), '{}')",
    );
    // The shape of 138****0001 (customer 1's phone 13800130001): 64 guesses pass, in
    // batches or one at a time, rolled back or not…
    let guesses = |from: i64, to: i64| {
        format!(
            "SELECT count(*) FROM pool_private.whole_key_matches(ARRAY(SELECT '86138' || lpad(g::text, 4, '0') || '0001' FROM generate_series({from}, {to}) g), '{{}}')"
        )
    };
    s.sql("m2", &format!("BEGIN; {}; ROLLBACK;", guesses(0, 39)));
    for g in 40..60 {
        s.sql(
            "m2",
            &format!("SELECT count(*) FROM pool_private.whole_key_match('86138{g:04}0001', NULL)"),
        );
    }
    s.sql("m2", &guesses(60, 63));
    // …the next is refused, asked or written, though the daily quota has room.
    let err = s.refused("m2", &guesses(64, 64), "PT409");
    assert!(
        err.contains("65 today of numbers shaped like one masked number"),
        "{err}"
    );
    s.refused(
        "m2",
        "INSERT INTO customers (name, phone, phone_key, pool_id) VALUES ('probe', '1', '8613800650001', 1)",
        "PT409",
    );
    let err = s.fails("m2", &["list", "--search", "13800660001"], 5);
    assert!(err.contains("shaped like one masked number"), "{err}");
    // Shapes of other buckets, and other members, are not held back by it (the member
    // who tried loses the rest of the day's lookups in that bucket: 1/64 of shapes).
    let other = s.su(
        "SELECT substr(k, 3) FROM (SELECT '8615' || (700000000 + g * 7919) AS k FROM generate_series(1, 300) g) x
          WHERE pool_private.shape_bucket(k) <> pool_private.shape_bucket('8613800000001') LIMIT 1",
    );
    s.ok("m2", &["list", "--search", &other]);
    s.sql("m1", &guesses(0, 30));
    // An 8-digit landline shows 2 digits at each end (12****78): its guesses share a
    // shape too (migration 25; migration 23's shape fitted only mobiles).
    let landline = |from: i64, to: i64| {
        format!(
            "SELECT count(*) FROM pool_private.whole_key_matches(ARRAY(SELECT '12' || lpad(g::text, 4, '0') || '78' FROM generate_series({from}, {to}) g), '{{}}')"
        )
    };
    s.sql("boss", &landline(0, 63));
    s.refused("boss", &landline(64, 64), "PT409");
    // One lookup of a phone and an e-mail together is two lookups (migration 25: it
    // used to count one and let both be written free).
    let m1 = s.id("m1");
    let used = || {
        s.su(&format!(
            "SELECT last_value FROM pool_private.key_lookups_{m1}"
        ))
    };
    let before: i64 = used().parse().expect("count");
    s.sql(
        "m1",
        "SELECT count(*) FROM pool_private.whole_key_match('8613700000001', 'both@qq.com')",
    );
    assert_eq!(used().parse::<i64>().expect("count"), before + 2);
    // Asked twice in one transaction, counted once.
    s.sql(
        "m1",
        "BEGIN; SELECT count(*) FROM pool_private.whole_key_matches(ARRAY['8613700000002'], '{}');
                SELECT count(*) FROM pool_private.whole_key_matches(ARRAY['8613700000002'], '{}'); COMMIT;",
    );
    assert_eq!(used().parse::<i64>().expect("count"), before + 3);
    // Admins are not counted; nobody else reads or resets the buckets.
    s.sql("admin", &guesses(0, 500));
    let m2 = s.id("m2");
    for who in ["m1", "boss", "viewer", "admin"] {
        s.refused(
            who,
            &format!("SELECT setval('pool_private.key_shapes_{m2}_0', 0)"),
            "42501",
        );
        s.refused(
            who,
            "SELECT pool_private.count_key_shapes(true, 'admin', 1, 1, ARRAY['x'])",
            "42501",
        );
    }
}

/// Hostile review F3: the server keeps a "shares a phone or e-mail with another customer"
/// flag per customer group (the duplicate rate), so writing a customer with a chosen
/// whole phone and reading the count answers "is this anyone's phone?" as a lookup
/// would. Every key a member writes is counted like a lookup, rolled back or not; a
/// key the transaction already asked about (as `pool add` and `pool import` do before
/// writing) is not counted twice.
#[test]
fn writing_a_chosen_phone_costs_a_lookup_so_the_duplicate_rate_is_no_free_oracle() {
    let Some(s) = server("keywrites") else {
        return;
    };
    s.pooled(2, 1);
    let dups = "SELECT coalesce(sum(n) FILTER (WHERE dup), 0) FROM pool_private.report_groups()";
    let probe = |key: &str| {
        format!(
            "BEGIN; INSERT INTO customers (name, phone, phone_key, pool_id) VALUES ('probe', '1', '{key}', 1); {dups}; ROLLBACK;"
        )
    };
    // The oracle itself: the count tells a pooled customer's phone from a free one.
    assert_eq!(s.sql("m1", &probe("8613800130001")), "2");
    assert_eq!(s.sql("m1", &probe("8613999999999")), "0");
    let m1 = s.id("m1");
    let used = |who_id: i64| {
        s.su(&format!(
            "SELECT last_value FROM pool_private.key_lookups_{who_id}"
        ))
    };
    assert_eq!(used(m1), "2", "each rolled-back probe costs one lookup");
    // Past the quota the probe's write is refused, and committed or rolled back, an
    // UPDATE to a chosen key costs the same.
    s.sql(
        "admin",
        "INSERT INTO settings (key, value) VALUES ('key_lookups_per_day', '6')",
    );
    let own = s.sql(
        "m1",
        &format!(
            "INSERT INTO customers (name, owner_id, pool_id) VALUES ('mine', {m1}, 1) RETURNING id"
        ),
    );
    for k in ["8613800130002", "8613800130003"] {
        s.sql(
            "m1",
            &format!("BEGIN; UPDATE customers SET phone = '1', phone_key = '{k}' WHERE id = {own}; {dups}; ROLLBACK;"),
        );
    }
    s.sql(
        "m1",
        &format!("UPDATE customers SET email = 'x@qq.com', email_key = 'x@qq.com', name = 'mine 2' WHERE id = {own}"),
    );
    // unchanged keys and other columns cost nothing
    s.sql(
        "m1",
        &format!("UPDATE customers SET email_key = 'x@qq.com', name = 'mine 3' WHERE id = {own}"),
    );
    assert_eq!(used(m1), "5");
    s.sql("m1", &probe("8613800130004"));
    let err = s.refused("m1", &probe("8613800130005"), "PT409");
    assert!(err.contains("7/6 today"), "{err}");
    s.refused(
        "m1",
        &format!("UPDATE customers SET phone_key = '8613800130005' WHERE id = {own}"),
        "PT409",
    );
    // A key asked about first is not counted again when written in the same
    // transaction; asked in another transaction, it is.
    s.sql(
        "admin",
        "UPDATE settings SET value = '100' WHERE key = 'key_lookups_per_day'",
    );
    let m2 = s.id("m2");
    s.sql(
        "m2",
        "BEGIN; SELECT count(*) FROM pool_private.whole_key_matches(ARRAY['8613800130001'], ARRAY['new@qq.com']);
         INSERT INTO customers (name, phone, phone_key, email, email_key, pool_id)
              VALUES ('asked first', '1', '8613800130001', 'new@qq.com', 'new@qq.com', 1);
         COMMIT;",
    );
    assert_eq!(used(m2), "2");
    s.sql(
        "m2",
        "SELECT count(*) FROM pool_private.whole_key_matches(ARRAY['8613800130002'], '{}')",
    );
    s.sql(
        "m2",
        "INSERT INTO customers (name, phone, phone_key, pool_id) VALUES ('asked before', '1', '8613800130002', 1)",
    );
    assert_eq!(used(m2), "4");
    // `pool add` asks (for its duplicate warning), then writes: two keys, two lookups.
    s.ok(
        "m2",
        &[
            "add",
            "--name",
            "王五",
            "--phone",
            "13700001111",
            "--email",
            "ww@163.com",
            "--yes",
        ],
    );
    assert_eq!(used(m2), "6");
    // A member's import: asked per batch, written once; each key counted once.
    std::fs::write(
        s.dir.path().join("leads.csv"),
        "name,phone,email\n赵一,13700002221,z1@163.com\n赵二,13700002222,z2@163.com\n赵三,13700002223,\n",
    )
    .expect("write csv");
    s.ok("m2", &["import", "leads.csv"]);
    assert_eq!(used(m2), "11");
    // An import that needs more than is left today is refused before it asks or
    // writes anything (review F5: it used to fail part-way, the quota spent).
    s.sql(
        "admin",
        "UPDATE settings SET value = '14' WHERE key = 'key_lookups_per_day'",
    );
    std::fs::write(
        s.dir.path().join("more.csv"),
        "name,phone,email\n钱一,13700004441,q1@163.com\n钱二,13700004442,q2@163.com\n钱一,13700004441,q1@163.com\n",
    )
    .expect("write csv");
    let before = s.sql("admin", "SELECT count(*) FROM customers");
    let err = s.fails("m2", &["import", "more.csv"], 5);
    assert!(
        err.contains("needs 4 whole phone/e-mail lookups, more than the 3 you have left"),
        "{err}"
    );
    assert!(err.contains("key_lookups_per_day N"), "{err}");
    assert_eq!(used(m2), "11");
    assert_eq!(s.sql("admin", "SELECT count(*) FROM customers"), before);
    std::fs::write(
        s.dir.path().join("less.csv"),
        "name,phone,email\n孙一,13700005551,s1@163.com\n",
    )
    .expect("write csv");
    s.ok("m2", &["import", "less.csv"]);
    assert_eq!(used(m2), "13");
    // Admins are not counted, asking or writing.
    s.pooled(50, 1);
    s.ok(
        "admin",
        &[
            "add",
            "--name",
            "管理员加的",
            "--phone",
            "13700003333",
            "--yes",
        ],
    );
    assert_eq!(used(s.id("admin")), "0");
    // Nobody but the owner reads or changes what was asked.
    for who in ["m1", "boss", "viewer", "admin"] {
        s.refused(who, "SELECT * FROM pool_private.keys_asked", "42501");
        s.refused(
            who,
            "INSERT INTO pool_private.keys_asked VALUES (txid_current(), 'p8613800130009', 1)",
            "42501",
        );
        s.refused(
            who,
            "SELECT pool_private.count_written_keys(ARRAY['x'])",
            "42501",
        );
    }
}

/// The base table's columns a contact may be typed into, closed to all but admins.
const TEXT_COLUMNS: [&str; 7] = [
    "name",
    "company",
    "city",
    "source",
    "tags",
    "name_key",
    "company_key",
];

#[test]
fn contacts_typed_into_names_tags_and_cities_are_masked_in_the_view_for_psql_members() {
    let Some(s) = server("masknames") else {
        return;
    };
    let id = s.pooled(1, 1)[0];
    s.sql(
        "admin",
        &format!(
            "UPDATE customers SET name = '张三 13987654321', name_key = '张三13987654321',
                 company = 'zhuge@qqcom', company_key = 'zhuge@qqcom', city = '139、2468、1357',
                 source = '6234-56-78', tags = '李华@163.com' WHERE id = {id};
             INSERT INTO customer_tags (tag, customer_id) VALUES ('李华@163.com', {id})"
        ),
    );
    let row = format!(
        "SELECT concat_ws('|', name, company, city, source, tags, coalesce(name_key, '-'), coalesce(company_key, '-'))
           FROM customers_v WHERE id = {id}"
    );
    let probes = [
        "SELECT count(*) FROM customers_v WHERE name LIKE '%8765%' OR company LIKE 'zhuge%'
             OR city LIKE '%2468%' OR source LIKE '6234%' OR tags LIKE '%李华%'
             OR name_key LIKE '%8765%' OR company_key LIKE 'zhuge%'"
            .to_string(),
        "SELECT count(*) FROM customer_tags WHERE tag LIKE '%李华%'".to_string(),
    ];
    // The member and the viewer, who see the pooled customer's contacts masked.
    for who in ["m1", "viewer"] {
        assert_eq!(
            s.sql(who, &row),
            "张三 139****4321|z***@qqcom|139****1357|62****78|李***@163.com|-|-",
            "{who}"
        );
        for p in &probes {
            assert_eq!(s.sql(who, p), "0", "{who}: {p}");
        }
        // What they see, they find.
        assert_eq!(
            s.sql(
                who,
                "SELECT count(*) FROM customers_v WHERE name LIKE '张三%'"
            ),
            "1"
        );
    }
    // Nor through the quality report's worst records (migration 25), nor a contact
    // person's name (migration 25).
    s.sql(
        "admin",
        &format!(
            "INSERT INTO contacts (customer_id, name, title, created_by, created_at, updated_at)
             VALUES ({id}, '王经理 13912345678', '采购 wang@163.com', 1, 0, 0)"
        ),
    );
    for who in ["m1", "viewer"] {
        let worst = s.sql(
            who,
            "SELECT string_agg(q.name || '/' || coalesce(q.company, ''), ';')
               FROM generate_series(0, 511) m, pool_private.quality_records(m, 1000) q",
        );
        assert!(worst.contains("张三 139****4321"), "{who}: {worst}");
        assert!(
            !worst.contains("13987654321") && !worst.contains("zhuge@qqcom"),
            "{who}: {worst}"
        );
        assert_eq!(
            s.sql(
                who,
                &format!("SELECT name || '|' || title FROM contacts_v WHERE customer_id = {id}")
            ),
            "王经理 139****5678|采购 w***@163.com",
            "{who}"
        );
        for col in ["name", "title"] {
            s.refused(who, &format!("SELECT {col} FROM contacts"), "42501");
        }
    }
    // A release reason is read through ownership_events_v (migration 28): masked where
    // the contacts are, the column itself closed.
    assert_eq!(s.sql("m2", &claim_count_sql(id)), "1");
    s.ok(
        "m2",
        &["release", &id.to_string(), "--reason", "新手机 13911223344"],
    );
    for who in ["m1", "viewer"] {
        s.refused(who, "SELECT reason FROM ownership_events", "42501");
        assert_eq!(
            s.sql(
                who,
                &format!("SELECT reason FROM ownership_events_v WHERE customer_id = {id} AND event = 'release'")
            ),
            "新手机 139****3344",
            "{who}"
        );
    }
    s.refused("boss", "SELECT reason FROM ownership_events", "42501");
    // Nor the manager, who reads contact persons through the view too (migration 28).
    for col in ["name", "title"] {
        s.refused("boss", &format!("SELECT {col} FROM contacts"), "42501");
    }
    assert_eq!(
        s.sql(
            "boss",
            &format!("SELECT name FROM contacts_v WHERE customer_id = {id}")
        ),
        "王经理 13912345678"
    );
    // Not around the view: the base table's text columns are closed to members and
    // viewers (migration 24), as its phone and e-mail always were.
    for who in ["m1", "viewer"] {
        for col in TEXT_COLUMNS {
            s.refused(
                who,
                &format!("SELECT count(*) FROM customers WHERE {col} LIKE '%1%'"),
                "42501",
            );
        }
    }
    // The manager sees the pooled customer whole.
    assert_eq!(
        s.sql("boss", &row),
        "张三 13987654321|zhuge@qqcom|139、2468、1357|6234-56-78|李华@163.com|张三13987654321|zhuge@qqcom"
    );
    for p in &probes {
        assert_ne!(s.sql("boss", p), "0", "{p}");
    }
    // Once another team's member owns it, the manager sees it masked like a member, and
    // cannot read around the view either (migration 27): not the name, not the tags.
    assert_eq!(s.sql("m2", &claim_count_sql(id)), "1");
    assert_eq!(
        s.sql("boss", &row),
        "张三 139****4321|z***@qqcom|139****1357|62****78|李***@163.com|-|-"
    );
    for p in &probes {
        assert_eq!(s.sql("boss", p), "0", "boss: {p}");
    }
    for col in TEXT_COLUMNS {
        s.refused(
            "boss",
            &format!("SELECT count(*) FROM customers WHERE {col} LIKE '%1%'"),
            "42501",
        );
    }
}
