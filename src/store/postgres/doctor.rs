//! `pool doctor` on a server: is the security setup of DESIGN.md still in place? Row
//! level security enabled and forced, policies that never read a client-settable
//! setting, grants as designed, the guard and log triggers present and enabled, definer
//! functions with a fixed search_path, an owner that RLS binds, and the audit head.
//! (The audit chain itself is verified by the app, row by row, as `pool audit verify`.)
//! Read from the catalog, which every pool role may read.
use postgres::Client;

use crate::error::Result;
use crate::store::ops::maintenance::ServerCheck;

/// The pool groups (cluster-wide roles).
const GROUPS: [&str; 4] = ["pool_admin", "pool_manager", "pool_member", "pool_viewer"];

/// The triggers each table must have: (table, name, function, pg_trigger.tgtype — when
/// and on which events it fires: 1 row, 2 before, 4 insert, 8 delete, 16 update,
/// 32 truncate).
const TRIGGERS: &[(&str, &str, &str, i16)] = &[
    ("customers", "b_guard", "customers_guard", 23),
    ("customers", "z_log", "customers_log", 17),
    ("customers", "z_added", "customers_added", 4),
    ("customer_tags", "b_guard", "tags_guard", 11),
    ("customer_tags", "c_added", "tags_added", 4),
    ("interactions", "b_guard", "work_guard", 31),
    ("interactions", "z_log", "work_log", 21),
    ("followups", "b_guard", "work_guard", 31),
    ("followups", "z_log", "work_log", 21),
    ("deals", "b_guard", "work_guard", 31),
    ("deals", "z_log", "work_log", 21),
    ("teams", "z_log", "settings_log", 29),
    ("pools", "z_log", "settings_log", 29),
    ("pool_teams", "z_log", "settings_log", 29),
    ("pool_rules", "z_log", "settings_log", 29),
    ("pool_rule_overrides", "z_log", "settings_log", 29),
    ("settings", "z_log", "settings_log", 29),
    ("custom_fields", "z_log", "settings_log", 29),
    ("contacts", "b_guard", "contacts_guard", 31),
    ("contacts", "z_log", "contacts_log", 29),
    ("customers", "c_allocate", "allocate_guard", 19),
    ("customers", "zz_plan", "plan_rules", 17),
    ("deals", "zz_plan", "plan_rules", 5),
    ("followup_rules", "z_log", "settings_log", 29),
    // The audit rows written at commit (migration 14): an import's own row, and owner
    // changes with the follow-ups that moved with them.
    ("pool_private.import_pending", "z_flush", "import_flush", 5),
    ("pool_private.defer_flush", "z_flush", "work_flush", 5),
    // A pool's customers re-dated once at the end of a rules change (migration 29).
    ("pool_private.rules_pending", "z_flush", "rules_flush", 5),
    // The report counts (migration 15): after each statement.
    ("customers", "zz_counts_ins", "customer_counts_ins", 4),
    ("customers", "zz_counts_upd", "customer_counts_upd", 16),
    ("customers", "zz_counts_del", "customer_counts_del", 8),
    (
        "customers",
        "zz_counts_truncate",
        "customer_counts_truncated",
        32,
    ),
    // The audit rows of a transaction held to its end (migration 16): head marks and
    // diverted rows; and the lookup counters every new user gets (migration 20).
    ("audit_log", "a_divert", "audit_divert", 7),
    ("audit_head", "a_hold", "audit_head_hold", 19),
    ("users", "key_lookup_counters", "user_counters", 5),
    // A deactivated user's open sessions end when it commits (migration 32).
    ("users", "zz_end_sessions", "end_sessions", 17),
    // Whole keys written count as lookups (migration 21).
    ("customers", "zz_keys_added", "keys_added", 4),
    ("customers", "zz_keys_changed", "keys_changed", 17),
    ("audit_log", "audit_no_update", "audit_append_only", 27),
    ("audit_log", "audit_no_truncate", "audit_append_only", 34),
    (
        "audit_head",
        "audit_head_no_delete",
        "audit_append_only",
        11,
    ),
    (
        "audit_head",
        "audit_head_no_truncate",
        "audit_append_only",
        34,
    ),
];

/// a_same_identity: before every INSERT, UPDATE, DELETE, TRUNCATE statement.
const SAME_IDENTITY_TYPE: i16 = 62;

/// The tables whose every write is refused for a client unless it comes through
/// `a_same_identity` (a SET ROLE-d session may not write).
const SAME_IDENTITY: [&str; 24] = [
    "teams",
    "users",
    "pools",
    "pool_teams",
    "pool_rules",
    "pool_rule_overrides",
    "customers",
    "customer_tags",
    "ownership_events",
    "interactions",
    "followups",
    "deals",
    "merges",
    "audit_log",
    "audit_head",
    "settings",
    "notify_channels",
    "notify_runs",
    "notify_sent",
    "notify_emails",
    "custom_fields",
    "contacts",
    "followup_rules",
    "allocation_cursor",
];

/// Tables only the server writes (its definer code or triggers): no pool role may
/// insert, update, delete or truncate them.
const SERVER_WRITTEN: [&str; 7] = [
    "audit_log",
    "audit_head",
    "ownership_events",
    "merges",
    "users",
    "schema_migrations",
    "allocation_cursor",
];

/// Rules, pools, teams, settings and custom field declarations: admins write them,
/// nobody else.
const ADMIN_WRITTEN: [&str; 8] = [
    "teams",
    "pools",
    "pool_teams",
    "pool_rules",
    "pool_rule_overrides",
    "settings",
    "custom_fields",
    "followup_rules",
];

/// The contact columns only admins read from the base table (others read customers_v).
const CONTACT_COLUMNS: [&str; 7] = [
    "phone",
    "email",
    "address",
    "notes",
    "custom",
    "phone_key",
    "email_key",
];

/// The text columns a contact may be typed into: only admins read them from the base
/// table; everyone else through customers_v (migrations 24 and 27).
const TEXT_COLUMNS: [&str; 7] = [
    "name",
    "company",
    "city",
    "source",
    "tags",
    "name_key",
    "company_key",
];

/// Server functions only admins may run, and those only managers and admins may run.
const ADMIN_FUNCTIONS: [&str; 8] = [
    "add_user(text,text,text,text,text)",
    "set_user_role(text,text)",
    "deactivate_user(text,text)",
    "end_sessions_of(text)",
    "forget_customer(bigint)",
    "set_user_team(text,text)",
    "reactivate_user(text)",
    "load_demo(jsonb)",
];
const MANAGER_FUNCTIONS: [&str; 7] = [
    "merge_customers(bigint,bigint[],jsonb,double precision,text)",
    "undo_merge(bigint)",
    "merge_erased(bigint)",
    "set_allocation_cursor(bigint,bigint)",
    "audit_chain()",
    "audit_seq_of_hash(text)",
    "audit_head_problem()",
];

fn check(name: &str, problems: Vec<String>, ok_detail: &str, hint: &str) -> ServerCheck {
    ServerCheck {
        check: name.into(),
        ok: problems.is_empty(),
        detail: if problems.is_empty() {
            ok_detail.into()
        } else {
            let more = problems.len().saturating_sub(5);
            let mut d = problems
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ");
            if more > 0 {
                d.push_str(&format!("; and {more} more"));
            }
            d
        },
        hint: hint.into(),
    }
}

fn strings(
    client: &mut Client,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> Result<Vec<String>> {
    Ok(client
        .query(sql, params)?
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect())
}

/// The server's security checks, each with what failed.
pub fn checks(client: &mut Client) -> Result<Vec<ServerCheck>> {
    let groups: Vec<String> = GROUPS.iter().map(|g| g.to_string()).collect();
    let mut out = Vec::new();

    let owner = strings(
        client,
        "SELECT format('the database owner %s is %s', r.rolname,
                       CASE WHEN r.rolsuper THEN 'a superuser' ELSE 'a BYPASSRLS role' END)
           FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba
          WHERE d.datname = current_database() AND (r.rolsuper OR r.rolbypassrls)",
        &[],
    )?;
    out.push(check(
        "database owner",
        owner,
        "not a superuser, not BYPASSRLS: row level security binds pool's own code",
        "give the database to a plain owner role: ALTER DATABASE … OWNER TO pool_owner (NOSUPERUSER NOBYPASSRLS)",
    ));

    let rls = strings(
        client,
        "SELECT format('%s.%s: row level security %s', n.nspname, c.relname,
                       CASE WHEN NOT c.relrowsecurity THEN 'disabled' ELSE 'not forced' END)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname IN ('public', 'pool_private') AND c.relkind IN ('r', 'p')
            AND NOT (c.relrowsecurity AND c.relforcerowsecurity)
          ORDER BY 1",
        &[],
    )?;
    out.push(check(
        "row level security",
        rls,
        "enabled and forced on every table",
        "as the database owner: ALTER TABLE … ENABLE ROW LEVEL SECURITY; ALTER TABLE … FORCE ROW LEVEL SECURITY",
    ));

    let policies = strings(
        client,
        "SELECT format('%s.%s policy %s reads a client-settable setting', schemaname, tablename, policyname)
           FROM pg_policies
          WHERE schemaname IN ('public', 'pool_private')
            AND (coalesce(qual, '') ~* 'current_setting|set_config'
                 OR coalesce(with_check, '') ~* 'current_setting|set_config')
          ORDER BY 1",
        &[],
    )?;
    out.push(check(
        "policies",
        policies,
        "every policy decides by current_user",
        "a policy that trusts a setting lets any client choose who it is: drop it and restore pool's (pool init --server on a fresh database shows them)",
    ));

    let mut grants = strings(
        client,
        "WITH g AS (SELECT unnest($1::text[]) AS role),
              t AS (SELECT c.oid, n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname IN ('public', 'pool_private') AND c.relkind IN ('r', 'p', 'v')),
              p AS (SELECT unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES','TRIGGER']) AS priv)
         SELECT format('%s may %s %s', g.role, p.priv, t.relname)
           FROM g, t, p
          WHERE has_table_privilege(g.role, t.oid, p.priv)
            AND (p.priv IN ('TRUNCATE', 'REFERENCES', 'TRIGGER')
                 OR t.nspname = 'pool_private'
                 OR (p.priv <> 'SELECT' AND t.relname = ANY ($2))
                 OR (p.priv <> 'SELECT' AND g.role <> 'pool_admin' AND t.relname = ANY ($3))
                 OR (p.priv <> 'SELECT' AND g.role = 'pool_viewer')
                 OR (p.priv = 'DELETE' AND t.relname NOT IN ('customer_tags', 'contacts')
                     AND NOT (g.role = 'pool_admin' AND t.relname = ANY ($3)))
                 OR (p.priv = 'SELECT' AND t.relname IN ('audit_log', 'audit_head')
                     AND g.role IN ('pool_member', 'pool_viewer'))
                 OR (p.priv = 'SELECT' AND t.relname = 'customers' AND g.role <> 'pool_admin'))
         UNION ALL
         SELECT format('%s may read customers.%s', g.role, col)
           FROM g, unnest($4::text[]) col
          WHERE g.role <> 'pool_admin' AND has_column_privilege(g.role, 'public.customers', col, 'SELECT')
         UNION ALL
         SELECT format('%s may read contacts.%s', g.role, col)
           FROM g, unnest(ARRAY['phone', 'email', 'phone_key', 'email_key', 'name', 'title']) col
          WHERE g.role <> 'pool_admin' AND to_regclass('public.contacts') IS NOT NULL
            AND has_column_privilege(g.role, 'public.contacts', col, 'SELECT')
         UNION ALL
         SELECT format('%s may read %s.%s', g.role, v.t, v.col)
           FROM g, (VALUES ('audit_log', 'hash'), ('audit_log', 'prev_hash'), ('audit_head', 'hash')) v(t, col)
          WHERE g.role <> 'pool_admin' AND has_column_privilege(g.role, 'public.' || v.t, v.col, 'SELECT')
         UNION ALL
         SELECT format('%s may read ownership_events.reason', g.role)
           FROM g
          WHERE g.role <> 'pool_admin' AND has_column_privilege(g.role, 'public.ownership_events', 'reason', 'SELECT')
         UNION ALL
         -- (a merge's before-image holds whole customer rows: migration 28)
         SELECT format('%s may read merges.before', g.role)
           FROM g
          WHERE g.role <> 'pool_admin' AND has_column_privilege(g.role, 'public.merges', 'before', 'SELECT')
         UNION ALL
         SELECT format('PUBLIC may %s %s', a.privilege_type, c.relname)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
          WHERE n.nspname IN ('public', 'pool_private') AND a.grantee = 0
         UNION ALL
         SELECT format('%s may create objects in schema %s', r, s)
           FROM unnest($1::text[] || ARRAY['public']) r, unnest(ARRAY['public', 'pool_private']) s
          WHERE has_schema_privilege(r, s, 'CREATE')
         ORDER BY 1",
        &[
            &groups,
            &SERVER_WRITTEN.to_vec(),
            &ADMIN_WRITTEN.to_vec(),
            &[CONTACT_COLUMNS.as_slice(), TEXT_COLUMNS.as_slice()].concat(),
        ],
    )?;
    grants.extend(strings(
        client,
        "WITH f AS (SELECT p.oid, p.proname || '(' || oidvectortypes(p.proargtypes) || ')' AS sig
                      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                     WHERE n.nspname = 'pool_private')
         SELECT format('%s may run %s', g, f.sig)
           FROM f, unnest($1::text[]) g
          WHERE has_function_privilege(g, f.oid, 'EXECUTE')
            AND ((replace(f.sig, ', ', ',') = ANY ($2) AND g <> 'pool_admin')
              OR (replace(f.sig, ', ', ',') = ANY ($3) AND g IN ('pool_member', 'pool_viewer')))
         UNION ALL
         SELECT format('PUBLIC may run %s', f.sig)
           FROM f JOIN pg_proc p ON p.oid = f.oid
          WHERE p.prosecdef AND (p.proacl IS NULL
                OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0))
         ORDER BY 1",
        &[
            &groups,
            &ADMIN_FUNCTIONS.to_vec(),
            &MANAGER_FUNCTIONS.to_vec(),
        ],
    )?);
    out.push(check(
        "grants",
        grants,
        "as designed: no client writes audit, history, users or merges; only admins write rules, pools, teams and settings; contact columns for admins only; viewers read only",
        "revoke the extra privilege as the database owner (REVOKE … FROM pool_member), or restore the database from a dump",
    ));

    let mut want: (Vec<String>, Vec<String>, Vec<String>, Vec<i16>) = Default::default();
    let same = SAME_IDENTITY
        .iter()
        .map(|t| (*t, "a_same_identity", "same_identity", SAME_IDENTITY_TYPE));
    for (t, n, f, ty) in TRIGGERS.iter().copied().chain(same) {
        want.0.push(t.into());
        want.1.push(n.into());
        want.2.push(f.into());
        want.3.push(ty);
    }
    // The only condition a trigger may carry is migration 4's (skipped while a server
    // function, which checks and audits itself, writes), or migration 17's: same_identity
    // only where it can refuse, the counts trigger not inside a claim (which counts itself).
    let triggers = strings(
        client,
        "SELECT format('%s on %s %s', w.name, w.tbl,
                       CASE WHEN tg.oid IS NULL THEN 'is missing'
                            WHEN tg.tgenabled = 'D' THEN 'is disabled'
                            WHEN tg.tgenabled = 'R' THEN 'fires only for replicas'
                            WHEN pr.proname <> w.func THEN 'runs ' || pr.proname || ', not ' || w.func
                            WHEN tg.tgtype <> w.ty THEN 'fires on other events than pool''s'
                            ELSE 'has a condition: ' || cond END)
           FROM unnest($1::text[], $2::text[], $3::text[], $4::int2[]) AS w(tbl, name, func, ty)
           LEFT JOIN pg_trigger tg ON tg.tgname = w.name
                  AND tg.tgrelid = to_regclass(CASE WHEN w.tbl LIKE 'pool_private.%' THEN w.tbl
                                                    ELSE 'public.' || quote_ident(w.tbl) END)
           LEFT JOIN pg_proc pr ON pr.oid = tg.tgfoid
           LEFT JOIN LATERAL (SELECT substring(pg_get_triggerdef(tg.oid) FROM ' WHEN (.*) EXECUTE ') AS cond) x ON true
           CROSS JOIN LATERAL (SELECT CASE w.name
                   WHEN 'a_same_identity' THEN '(((CURRENT_USER <> SESSION_USER) AND (NOT pool_private.is_owner())))'
                   WHEN 'zz_counts_upd' THEN '((NOT pool_private.claim_counts_itself()))'
                   WHEN 'a_divert' THEN '((new.seq >= ''4611686018427387904''::bigint))'
                   WHEN 'a_hold' THEN '((old.seq >= ''4611686018427387904''::bigint))'
                   WHEN 'zz_end_sessions' THEN '((old.active AND (NOT new.active)))'
                   ELSE '((NOT pool_private.server_op()))' END AS ok_cond) k
          WHERE tg.oid IS NULL OR tg.tgenabled NOT IN ('O', 'A') OR pr.proname <> w.func OR tg.tgtype <> w.ty
             OR coalesce(cond, ok_cond) <> ok_cond
          ORDER BY 1",
        &[&want.0, &want.1, &want.2, &want.3],
    )?;
    out.push(check(
        "triggers",
        triggers,
        "every guard, log and append-only trigger is present and enabled",
        "as the database owner: ALTER TABLE … ENABLE TRIGGER …; a dropped trigger needs the database restored from a dump (writes since went unguarded: read pool audit log)",
    ));

    // Migration 32: the owner of the trigger's function must be able to end the sessions.
    let signal = strings(
        client,
        "SELECT format('%s may not end other roles'' sessions (pg_signal_backend): a deactivated user keeps the sessions they have open', p.proowner::regrole)
           FROM pg_proc p
          WHERE p.oid = to_regprocedure('pool_private.end_sessions()')
            AND NOT pg_has_role(p.proowner, 'pg_signal_backend', 'USAGE')",
        &[],
    )?;
    out.push(check(
        "deactivation ends sessions",
        signal,
        "deactivating a user ends the sessions their role has open",
        "as a superuser: GRANT pg_signal_backend TO <the database owner>",
    ));

    let definers = strings(
        client,
        "SELECT format('%s(%s) runs as its owner without a fixed search_path', p.proname,
                       pg_get_function_identity_arguments(p.oid))
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname = 'pool_private' AND p.prosecdef
            AND NOT EXISTS (SELECT 1 FROM unnest(coalesce(p.proconfig, '{}')) c WHERE c LIKE 'search_path=%')
          ORDER BY 1",
        &[],
    )?;
    out.push(check(
        "definer functions",
        definers,
        "every SECURITY DEFINER function pins its search_path",
        "a definer function without SET search_path can be made to run a client's objects: restore pool's function",
    ));

    let head = strings(
        client,
        "SELECT p FROM pool_private.audit_head_problem() p WHERE p IS NOT NULL",
        &[],
    )?;
    out.push(check(
        "audit head",
        head,
        "the head row names the last audit row",
        "audit rows were deleted or the head was changed outside pool: compare with a dump (pool audit verify --expect HASH)",
    ));

    // Only admins may recount (it reads every customer); others skip the check.
    // (EXECUTE is checked when a statement starts: asked first, apart.)
    let may: bool = client
        .query_one(
            "SELECT has_function_privilege('pool_private.customer_counts_drift()', 'EXECUTE')",
            &[],
        )?
        .get(0);
    let drift: Option<i64> = if may {
        Some(
            client
                .query_one("SELECT pool_private.customer_counts_drift()", &[])?
                .get(0),
        )
    } else {
        None
    };
    if let Some(n) = drift {
        out.push(check(
            "report counts",
            if n == 0 {
                Vec::new()
            } else {
                vec![format!("{n} groups of the kept customer counts differ from a recount")]
            },
            "the server's report counts equal a recount of the customers",
            "they were changed with triggers off (a restore or a load as the superuser): as the database owner, DELETE FROM pool_private.customer_counts; INSERT INTO pool_private.customer_counts SELECT * FROM pool_private.customer_counts_recount()",
        ));
    }
    Ok(out)
}
