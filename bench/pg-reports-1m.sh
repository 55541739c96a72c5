#!/usr/bin/env bash
# The README's "Reports at 1,000,000 customers on a server" database: 1,000,000
# customers (400,000 owned by 20 members in 4 teams, a second pool seen by one team,
# about 10% sharing a phone or e-mail key), 333,000 owner events, 250,000 interactions,
# 50,000 follow-ups, 100,000 deals, loaded with SQL as the superuser (triggers off, as a
# restore would), then every report timed as the admin and as a member.
#   bench/pg-reports-1m.sh load POOL   create database pool1m and load it (POOL: the binary)
#   bench/pg-reports-1m.sh time POOL   time each report (median of 3 after a warm-up)
# Needs the cluster env of `.ci/pg-cluster start` (PGHOST, PGPORT, PGUSER superuser).
set -euo pipefail
what=$1
pool=$2
db=pool1m
url_for() { echo "postgres://$1@127.0.0.1:$PGPORT/$db"; }

if [ "$what" = load ]; then
    psql -qX -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS $db" \
        -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rep_owner') THEN CREATE ROLE rep_owner LOGIN CREATEROLE; END IF; END \$\$" \
        -c "CREATE DATABASE $db OWNER rep_owner"
    "$pool" --db "$(url_for rep_owner)" init --server --admin rep_admin --team hq >/dev/null
    for i in $(seq 1 20); do
        psql -qX -v ON_ERROR_STOP=1 -U rep_owner -d $db \
            -c "SELECT pool_private.add_user('rep_m$i', 'team$(( (i - 1) % 4 + 1 ))', 'member')" >/dev/null 2>&1 ||
            psql -qX -v ON_ERROR_STOP=1 -d $db -c "SELECT 1 FROM users WHERE login = 'rep_m$i'" | grep -q 1
    done
    psql -qX -v ON_ERROR_STOP=1 -d $db <<'SQL'
SET session_replication_role = replica;
INSERT INTO pools (name, created_at) VALUES ('north', 0);
INSERT INTO pool_rules (pool_id) SELECT id FROM pools WHERE name = 'north';
INSERT INTO pool_teams (pool_id, team_id) SELECT p.id, t.id FROM pools p, teams t WHERE p.name = 'north' AND t.name = 'team1';
CREATE TEMP TABLE m AS SELECT row_number() OVER (ORDER BY id) - 1 AS k, id FROM users WHERE login LIKE 'rep_m%';
INSERT INTO customers (name, company, phone, email, city, address, source, stage, phone_key, email_key,
                       name_key, company_key, pool_id, owner_id, locked, created_at, updated_at, claimed_at,
                       pooled_at, won_at, recycle_due_at, last_contact_at)
SELECT CASE WHEN g % 50 <> 0 THEN '客户' || g END, CASE WHEN g % 7 <> 0 THEN 'Co ' || (g % 90000) END,
       CASE WHEN g % 5 <> 0 THEN '138' || lpad((g % 900000)::text, 8, '0') END,
       CASE WHEN g % 3 = 0 THEN 'u' || (g % 950000) || '@ex.com' END,
       CASE WHEN g % 11 <> 0 THEN (ARRAY['杭州','深圳','上海','北京'])[g % 4 + 1] END,
       CASE WHEN g % 4 = 0 THEN 'Road ' || g END, CASE WHEN g % 6 <> 0 THEN 'fair' END,
       CASE WHEN g % 10 = 0 THEN 'customer' WHEN g % 97 = 0 THEN 'loyal' WHEN g % 89 = 0 THEN 'churned' ELSE 'lead' END,
       CASE WHEN g % 5 <> 0 THEN '+86138' || lpad((g % 900000)::text, 8, '0') END,
       CASE WHEN g % 3 = 0 THEN 'u' || (g % 950000) || '@ex.com' END,
       'kh' || g, 'co' || (g % 90000),
       CASE WHEN g % 10 = 3 THEN (SELECT id FROM pools WHERE name = 'north') ELSE 1 END,
       CASE WHEN g % 5 < 2 THEN (SELECT id FROM m WHERE k = g % 20) END,
       g % 5 < 2 AND g % 40 = 0,
       1700000000 + g, 1700000000 + g,
       CASE WHEN g % 5 < 2 THEN 1710000000 + g END,
       CASE WHEN g % 5 >= 2 THEN 1700000000 + g END,
       CASE WHEN g % 10 = 0 THEN 1700000000 + g + (g % 200) * 86400 END,
       CASE WHEN g % 5 < 2 THEN 1720000000 + g END,
       CASE WHEN g % 3 = 0 THEN 1710000000 + g END
  FROM generate_series(1, 1000000) g;
INSERT INTO ownership_events (customer_id, event, from_user, to_user, by_user, pool_id, at)
SELECT c.id, CASE WHEN c.owner_id IS NULL THEN 'release' ELSE 'claim' END,
       CASE WHEN c.owner_id IS NULL THEN (SELECT id FROM m WHERE k = c.id % 20) END, c.owner_id,
       coalesce(c.owner_id, (SELECT id FROM m WHERE k = c.id % 20)), c.pool_id,
       extract(epoch FROM now())::bigint - (c.id % 60) * 86400
  FROM customers c WHERE c.id % 3 = 0;
INSERT INTO interactions (customer_id, user_id, kind, summary, at, created_at)
SELECT c.id, coalesce(c.owner_id, (SELECT id FROM m WHERE k = c.id % 20)), 'call', 'called',
       extract(epoch FROM now())::bigint - (c.id % 90) * 86400, 0
  FROM customers c WHERE c.id % 4 = 0;
INSERT INTO followups (customer_id, assignee_id, created_by, due, action, created_at)
SELECT c.id, c.owner_id, c.owner_id, to_char(now() - ((c.id % 30) - 10) * interval '1 day', 'YYYY-MM-DD'), 'call', 0
  FROM customers c WHERE c.owner_id IS NOT NULL AND c.id % 8 = 0;
INSERT INTO deals (customer_id, user_id, amount_minor, currency, on_date, created_at)
SELECT c.id, coalesce(c.owner_id, (SELECT id FROM m WHERE k = c.id % 20)), 100 * (c.id % 5000), 'CNY',
       to_char(now() - (c.id % 365) * interval '1 day', 'YYYY-MM-DD'), extract(epoch FROM now())::bigint - (c.id % 365) * 86400
  FROM customers c WHERE c.id % 10 = 0;
SET session_replication_role = origin;
SQL
    # A restore leaves the server's own report counts as they were: recount them, as
    # migration 15 does (the function exists from migration 15 on).
    psql -qX -d $db -U rep_owner -c "DO \$\$ BEGIN IF to_regproc('pool_private.customer_counts_recount') IS NOT NULL THEN
        DELETE FROM pool_private.customer_counts;
        INSERT INTO pool_private.customer_counts SELECT * FROM pool_private.customer_counts_recount(); END IF; END \$\$"
    psql -qX -d $db -c "VACUUM ANALYZE"
    exit 0
fi

if [ "$what" = time ]; then
    for who in rep_admin rep_m2; do
        for r in summary owners teams funnel stale followups activity quality; do
            ts=()
            for i in 0 1 2 3; do
                s=$(date +%s.%N)
                "$pool" --db "$(url_for $who)" report "$r" --format json >/dev/null
                e=$(date +%s.%N)
                [ "$i" = 0 ] || ts+=("$(echo "$e - $s" | bc)")
            done
            med=$(printf '%s\n' "${ts[@]}" | sort -n | sed -n 2p)
            printf '%s\t%s\t%.2f\t(%s)\tload %s\n' "$who" "$r" "$med" "${ts[*]}" "$(cut -d' ' -f1-3 /proc/loadavg)"
        done
    done
fi
