//! Server mode's schema: the migrations of `migrations/`, run in order by the database
//! owner, each in one transaction and recorded in `schema_migrations`; and the first admin.
use postgres::Client;

use crate::error::{Error, Result};

/// The migrations, in order: (version, name, SQL).
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "001-initial", include_str!("migrations/001-initial.sql")),
    (
        2,
        "002-server-rules",
        include_str!("migrations/002-server-rules.sql"),
    ),
    (
        3,
        "003-hidden-pool",
        include_str!("migrations/003-hidden-pool.sql"),
    ),
    (
        4,
        "004-server-functions",
        include_str!("migrations/004-server-functions.sql"),
    ),
    (
        5,
        "005-fields-level-industry",
        include_str!("migrations/005-fields-level-industry.sql"),
    ),
    (
        6,
        "006-contacts",
        include_str!("migrations/006-contacts.sql"),
    ),
    (
        7,
        "007-local-days-and-bulk-tags",
        include_str!("migrations/007-local-days-and-bulk-tags.sql"),
    ),
    (
        8,
        "008-automation",
        include_str!("migrations/008-automation.sql"),
    ),
    (
        9,
        "009-claim-at-once",
        include_str!("migrations/009-claim-at-once.sql"),
    ),
    (
        10,
        "010-bulk-import-and-reports",
        include_str!("migrations/010-bulk-import-and-reports.sql"),
    ),
    (
        11,
        "011-search-keys-hidden-work-forget-contacts",
        include_str!("migrations/011-search-keys-hidden-work-forget-contacts.sql"),
    ),
    (
        12,
        "012-import-ids-and-reports",
        include_str!("migrations/012-import-ids-and-reports.sql"),
    ),
    (
        13,
        "013-claim-in-a-new-session",
        include_str!("migrations/013-claim-in-a-new-session.sql"),
    ),
    (
        14,
        "014-audit-names-and-server-fixes",
        include_str!("migrations/014-audit-names-and-server-fixes.sql"),
    ),
    (
        15,
        "015-report-counts",
        include_str!("migrations/015-report-counts.sql"),
    ),
    (
        16,
        "016-audit-defer-exact",
        include_str!("migrations/016-audit-defer-exact.sql"),
    ),
    (
        17,
        "017-claim-counts-itself",
        include_str!("migrations/017-claim-counts-itself.sql"),
    ),
    (
        18,
        "018-report-work",
        include_str!("migrations/018-report-work.sql"),
    ),
    (
        19,
        "019-mask-in-any-width",
        include_str!("migrations/019-mask-in-any-width.sql"),
    ),
    (
        20,
        "020-whole-key-lookups",
        include_str!("migrations/020-whole-key-lookups.sql"),
    ),
    (
        21,
        "021-key-writes-counted",
        include_str!("migrations/021-key-writes-counted.sql"),
    ),
    (
        22,
        "022-mask-names-and-more-shapes",
        include_str!("migrations/022-mask-names-and-more-shapes.sql"),
    ),
    (
        23,
        "023-key-shapes-counted",
        include_str!("migrations/023-key-shapes-counted.sql"),
    ),
    (
        24,
        "024-text-columns-through-the-view",
        include_str!("migrations/024-text-columns-through-the-view.sql"),
    ),
    (
        25,
        "025-review-of-lookups-and-text",
        include_str!("migrations/025-review-of-lookups-and-text.sql"),
    ),
    (
        26,
        "026-mask-address-next-to-digits",
        include_str!("migrations/026-mask-address-next-to-digits.sql"),
    ),
    (
        27,
        "027-text-columns-closed-to-managers",
        include_str!("migrations/027-text-columns-closed-to-managers.sql"),
    ),
    (
        28,
        "028-review-of-masking-and-managers",
        include_str!("migrations/028-review-of-masking-and-managers.sql"),
    ),
    (
        29,
        "029-rules-redate-once",
        include_str!("migrations/029-rules-redate-once.sql"),
    ),
    (
        30,
        "030-managers-read-their-scope",
        include_str!("migrations/030-managers-read-their-scope.sql"),
    ),
    (
        31,
        "031-pool-list-not-evaluated-while-planning",
        include_str!("migrations/031-pool-list-not-evaluated-while-planning.sql"),
    ),
    (
        32,
        "032-deactivation-ends-sessions",
        include_str!("migrations/032-deactivation-ends-sessions.sql"),
    ),
    (
        33,
        "033-claim-plans-kept",
        include_str!("migrations/033-claim-plans-kept.sql"),
    ),
];

/// The newest schema version this binary knows on PostgreSQL.
pub const LATEST: i64 = 33;

/// The version table: owner-only (row level security like every other table), so the
/// clients read the version from `settings` instead.
const VERSION_TABLE: &str = "
CREATE TABLE IF NOT EXISTS public.schema_migrations (
    version     bigint PRIMARY KEY,
    name        text   NOT NULL,
    applied_at  bigint NOT NULL
);
ALTER TABLE public.schema_migrations ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.schema_migrations FORCE ROW LEVEL SECURITY;
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_policies WHERE tablename = 'schema_migrations' AND policyname = 'owner_only') THEN
        CREATE POLICY owner_only ON public.schema_migrations
            USING (current_user = (SELECT tableowner FROM pg_tables WHERE tablename = 'schema_migrations'))
            WITH CHECK (current_user = (SELECT tableowner FROM pg_tables WHERE tablename = 'schema_migrations'));
    END IF;
END $$;
";

/// The schema version a client sees: 0 if the database has no pool schema. A role that
/// is not an active pool user sees no settings row: unknown actor (exit 4).
pub(crate) fn version(client: &mut Client) -> Result<i64> {
    let row = client.query_one(
        "SELECT to_regclass('public.settings') IS NOT NULL,
                to_regclass('public.customers') IS NOT NULL",
        &[],
    )?;
    let (settings, customers): (bool, bool) = (row.get(0), row.get(1));
    if !settings {
        return Ok(i64::from(customers));
    }
    let row = client.query_opt(
        "SELECT value FROM public.settings WHERE key = 'schema_version'",
        &[],
    );
    match row {
        Ok(Some(r)) => Ok(r.get::<_, String>(0).parse().unwrap_or(0)),
        Ok(None) | Err(_) => {
            let login: String = client.query_one("SELECT current_user::text", &[])?.get(0);
            Err(Error::UnknownActor(login))
        }
    }
}

/// The versions already applied (as the owner).
fn applied(client: &mut Client) -> Result<Vec<i64>> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('public.schema_migrations') IS NOT NULL",
            &[],
        )?
        .get(0);
    if !exists {
        return Ok(Vec::new());
    }
    Ok(client
        .query(
            "SELECT version FROM public.schema_migrations ORDER BY version",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// What `pool init --server` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ServerInit {
    pub applied: Vec<String>,
    pub admin: Option<String>,
}

/// Prepares a pool database on a server, connected as its owner (a non-superuser role
/// with CREATEROLE that owns the database): runs each pending migration in its own
/// transaction, recorded in `schema_migrations`, stores the `timezone` setting (this
/// machine's zone) unless one is set, then makes `first_admin_login` (a new
/// login role) the first admin in `team` through `pool_private.add_user`, unless the
/// database has users already. Running it again applies only what is missing.
pub fn init_server(url: &str, first_admin_login: &str, team: &str) -> Result<ServerInit> {
    let (mut client, location) = super::connect(url)?;
    let row = client.query_one(
        "SELECT r.rolsuper OR r.rolbypassrls, d.datdba = r.oid, current_user::text
           FROM pg_roles r, pg_database d
          WHERE r.rolname = current_user AND d.datname = current_database()",
        &[],
    )?;
    let (privileged, owns, me): (bool, bool, String) = (row.get(0), row.get(1), row.get(2));
    if privileged || !owns {
        return Err(Error::Forbidden(format!(
            "pool init --server runs as the owner of {location}, a role that is neither a superuser nor BYPASSRLS (row level security would not bind it); connected as '{me}'. Create one: CREATE ROLE pool_owner LOGIN CREATEROLE; CREATE DATABASE pool OWNER pool_owner"
        )));
    }
    // Masking reads text in NFKC form (normalize()), which needs a UTF8 database.
    let encoding: String = client
        .query_one(
            "SELECT pg_encoding_to_char(encoding)::text FROM pg_database WHERE datname = current_database()",
            &[],
        )?
        .get(0);
    if encoding != "UTF8" {
        return Err(Error::Invalid {
            field: "database".into(),
            msg: format!("{location} is encoded {encoding}; pool keeps Chinese and other text in UTF8"),
            hint: "create it again as UTF8: CREATE DATABASE pool OWNER pool_owner ENCODING 'UTF8' TEMPLATE template0".into(),
        });
    }
    let done = applied(&mut client)?;
    let mut ran = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        if done.contains(version) {
            continue;
        }
        let mut tx = client.transaction()?;
        tx.batch_execute(VERSION_TABLE)?;
        tx.batch_execute(sql)
            .map_err(|e| Error::Other(format!("migration {name} failed: {e}")))?;
        tx.execute(
            "INSERT INTO public.schema_migrations (version, name, applied_at)
             VALUES ($1, $2, floor(extract(epoch FROM clock_timestamp()))::bigint)",
            &[version, name],
        )?;
        tx.commit()?;
        ran.push(name.to_string());
    }
    let mut tx = client.transaction()?;
    // The server counts daily caps in this zone and every client shows days in it: unless
    // an admin chose one, the zone of the machine that set the database up.
    tx.execute(
        "INSERT INTO public.settings (key, value) VALUES ('timezone', $1) ON CONFLICT (key) DO NOTHING",
        &[&crate::clock::system_zone().name()],
    )?;
    let users: i64 = tx
        .query_one("SELECT count(*) FROM public.users", &[])?
        .get(0);
    let admin = if users == 0 {
        crate::identity::check_login(first_admin_login)?;
        tx.query_one(
            "SELECT pool_private.add_user($1, $2, 'admin')",
            &[&first_admin_login, &team],
        )?;
        Some(first_admin_login.to_string())
    } else {
        None
    };
    tx.commit()?;
    Ok(ServerInit {
        applied: ran,
        admin,
    })
}
