-- pool on PostgreSQL, migration 5 (SQLite migration 11): a richer customer. Level (A/B/C)
-- and industry as columns, custom fields declared per pool with a type, recycle days per
-- level. Run by the database owner like every migration.

ALTER TABLE customers ADD COLUMN level text CHECK (level IN ('A', 'B', 'C'));
ALTER TABLE customers ADD COLUMN industry text;
CREATE INDEX customers_level ON customers(level, owner_id) WHERE level IS NOT NULL AND deleted_at IS NULL;
CREATE INDEX customers_industry ON customers(industry, owner_id) WHERE industry IS NOT NULL AND deleted_at IS NULL;

-- Not contact data: readable like city and stage. Writes go through the customers guard
-- (a member changes only customers they may work on) and are audited by customers_log.
GRANT SELECT (level, industry) ON customers TO pool_manager, pool_member, pool_viewer;

-- Custom field declarations: every pool user reads them; admins write them (grant,
-- policy and the settings guard/audit trigger, as for pool rules).
CREATE TABLE custom_fields (
    pool_id     bigint NOT NULL REFERENCES pools(id),
    name        text   NOT NULL,
    kind        text   NOT NULL CHECK (kind IN ('text', 'number', 'date', 'choice')),
    choices     text   NOT NULL DEFAULT '',
    position    bigint NOT NULL,
    created_at  bigint NOT NULL,
    PRIMARY KEY (pool_id, name)
);
ALTER TABLE custom_fields ENABLE ROW LEVEL SECURITY;
ALTER TABLE custom_fields FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON custom_fields USING (pool_private.is_owner()) WITH CHECK (pool_private.is_owner());
CREATE POLICY read ON custom_fields FOR SELECT USING ((SELECT pool_private.my_id()) IS NOT NULL);
CREATE POLICY admin_insert ON custom_fields FOR INSERT WITH CHECK ((SELECT pool_private.my_role()) = 'admin');
CREATE POLICY admin_delete ON custom_fields FOR DELETE USING ((SELECT pool_private.my_role()) = 'admin');
REVOKE ALL ON custom_fields FROM PUBLIC;
GRANT SELECT ON custom_fields TO pool_admin, pool_manager, pool_member, pool_viewer;
GRANT INSERT, DELETE ON custom_fields TO pool_admin;
CREATE TRIGGER a_same_identity BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON custom_fields
    FOR EACH STATEMENT EXECUTE FUNCTION pool_private.same_identity();
CREATE TRIGGER z_log AFTER INSERT OR UPDATE OR DELETE ON custom_fields
    FOR EACH ROW EXECUTE FUNCTION pool_private.settings_log();

-- `--where KEY>N` on a number field: NULL for a value that is not a number (a value an
-- import kept), never an error that would stop the whole list.
CREATE FUNCTION pool_private.as_number(p text) RETURNS double precision LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    RETURN p::double precision;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION pool_private.as_number(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pool_private.as_number(text) TO pool_admin, pool_manager, pool_member, pool_viewer;

-- Overrides may name a level: a stage beats a level, which beats a tag (domain::rules).
ALTER TABLE pool_rule_overrides DROP CONSTRAINT pool_rule_overrides_scope_check;
ALTER TABLE pool_rule_overrides ADD CONSTRAINT pool_rule_overrides_scope_check
    CHECK (scope IN ('stage', 'level', 'tag'));

CREATE OR REPLACE FUNCTION pool_private.recycle_due(c public.customers) RETURNS bigint LANGUAGE sql STABLE
AS $$
    SELECT CASE WHEN nc IS NULL THEN nd WHEN nd IS NULL THEN nc ELSE least(nc, nd) END
      FROM (
        SELECT CASE WHEN cd > 0 THEN greatest(coalesce(c.last_contact_at, claimed), claimed) + cd * 86400 END AS nc,
               CASE WHEN dd > 0 AND c.won_at IS NULL THEN claimed + dd * 86400 END AS nd
          FROM (
            SELECT coalesce(c.claimed_at, 0) AS claimed,
                   coalesce(
                       (SELECT o.recycle_no_contact_days FROM public.pool_rule_overrides o
                         WHERE o.pool_id = r.pool_id AND o.scope = 'stage' AND o.value = c.stage),
                       (SELECT o.recycle_no_contact_days FROM public.pool_rule_overrides o
                         WHERE o.pool_id = r.pool_id AND o.scope = 'level' AND o.value = c.level),
                       (SELECT min(o.recycle_no_contact_days) FROM public.pool_rule_overrides o
                         WHERE o.pool_id = r.pool_id AND o.scope = 'tag'
                           AND position(',' || o.value || ',' IN ',' || translate(c.tags, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') || ',') > 0),
                       r.recycle_no_contact_days) AS cd,
                   coalesce(
                       (SELECT o.recycle_no_deal_days FROM public.pool_rule_overrides o
                         WHERE o.pool_id = r.pool_id AND o.scope = 'stage' AND o.value = c.stage),
                       (SELECT o.recycle_no_deal_days FROM public.pool_rule_overrides o
                         WHERE o.pool_id = r.pool_id AND o.scope = 'level' AND o.value = c.level),
                       (SELECT min(o.recycle_no_deal_days) FROM public.pool_rule_overrides o
                         WHERE o.pool_id = r.pool_id AND o.scope = 'tag'
                           AND position(',' || o.value || ',' IN ',' || translate(c.tags, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') || ',') > 0),
                       r.recycle_no_deal_days) AS dd
              FROM public.pool_rules r
             WHERE r.pool_id = c.pool_id AND c.owner_id IS NOT NULL AND c.deleted_at IS NULL AND NOT c.locked
               AND position(',' || c.stage || ',' IN ',' || r.exempt_stages || ',') = 0) x) y
$$;

-- The view readers use, with level and industry (appended: a view keeps its columns).
CREATE OR REPLACE VIEW customers_v WITH (security_barrier) AS
SELECT c.id, c.name, c.company,
       CASE WHEN s.sees THEN c.phone ELSE pool_private.mask_phone(c.phone) END AS phone,
       CASE WHEN s.sees THEN c.email ELSE pool_private.mask_email(c.email) END AS email,
       c.city,
       CASE WHEN s.sees OR c.address IS NULL THEN c.address ELSE '***' END AS address,
       c.source, c.stage, c.tags,
       CASE WHEN s.sees THEN c.notes END AS notes,
       CASE WHEN s.sees THEN c.custom END AS custom,
       CASE WHEN s.sees THEN c.phone_key END AS phone_key,
       CASE WHEN s.sees THEN c.email_key END AS email_key,
       c.name_key, c.company_key, c.pool_id, c.owner_id, c.previous_owner_id, c.locked,
       c.created_at, c.updated_at, c.created_by, c.claimed_at, c.pooled_at, c.released_at,
       c.last_contact_at, c.won_at, c.deleted_at, c.merged_into, c.forgotten_at, c.recycle_due_at,
       s.sees AS contact_visible,
       c.level, c.industry
  FROM customers c
  CROSS JOIN LATERAL (
      SELECT pool_private.may_work_on((SELECT pool_private.my_role()), (SELECT pool_private.my_id()),
                                      (SELECT pool_private.my_team()), c.owner_id,
                                      pool_private.team_of(c.owner_id)) AS sees) s;

-- Edits of level and industry are audited like the other fields.
CREATE OR REPLACE FUNCTION pool_private.customers_log() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    sim bigint;
    now_ bigint;
    ev text;
    action text;
    f text;
    o text;
    nw text;
    bk text[] := '{}';
    ak text[] := '{}';
    oj jsonb := to_jsonb(OLD);
    nj jsonb := to_jsonb(NEW);
BEGIN
    IF pg_trigger_depth() > 1 THEN
        RETURN NULL;
    END IF;
    SELECT * INTO a FROM pool_private.actor();
    sim := pool_private.sim_now(a.role);
    now_ := coalesce(sim, pool_private.clock());
    IF NEW.owner_id IS DISTINCT FROM OLD.owner_id THEN
        IF OLD.owner_id IS NULL AND NEW.owner_id IS NOT DISTINCT FROM a.id THEN
            ev := 'claim';
        ELSIF NEW.owner_id IS NULL THEN
            ev := CASE WHEN a.role IN ('admin', 'manager')
                       THEN pool_private.intent(ARRAY['release', 'recycle', 'deactivate'], 'release') ELSE 'release' END;
        ELSE
            ev := pool_private.intent(ARRAY['assign', 'transfer', 'deactivate'], 'assign');
        END IF;
        INSERT INTO ownership_events (customer_id, event, from_user, to_user, by_user, pool_id, reason, at)
        VALUES (NEW.id, ev, OLD.owner_id, NEW.owner_id, a.id, NEW.pool_id,
                CASE WHEN NEW.owner_id IS NULL THEN pool_private.reason() END, now_);
        action := CASE ev WHEN 'deactivate' THEN 'user_deactivate' ELSE ev END;
        PERFORM pool_private.append_audit(a.login, action, 'customer', NEW.id,
            pool_private.jobj('owner', pool_private.js(pool_private.login_of(OLD.owner_id)),
                              'pool', pool_private.js(pool_private.pool_name(OLD.pool_id))),
            CASE WHEN NEW.owner_id IS NULL
                 THEN pool_private.jobj('owner', 'null', 'pool', pool_private.js(pool_private.pool_name(NEW.pool_id)),
                                        'reason', pool_private.js(pool_private.reason()))
                 ELSE pool_private.jobj('owner', pool_private.js(pool_private.login_of(NEW.owner_id))) END,
            sim);
    ELSIF NEW.locked <> OLD.locked THEN
        PERFORM pool_private.append_audit(a.login, CASE WHEN NEW.locked THEN 'lock' ELSE 'unlock' END, 'customer', NEW.id,
            pool_private.jobj('locked', pool_private.jb(OLD.locked)),
            pool_private.jobj('locked', pool_private.jb(NEW.locked)), sim);
    END IF;
    IF NEW.forgotten_at IS NOT NULL AND OLD.forgotten_at IS NULL THEN
        PERFORM pool_private.append_audit(a.login, 'forget', 'customer', NEW.id, NULL, NULL, sim);
    ELSIF NEW.merged_into IS DISTINCT FROM OLD.merged_into THEN
        PERFORM pool_private.append_audit(a.login, 'merge', 'customer', NEW.id,
            pool_private.jobj('merged_into', pool_private.jn(OLD.merged_into)),
            pool_private.jobj('merged_into', pool_private.jn(NEW.merged_into)), sim);
    ELSIF NEW.deleted_at IS DISTINCT FROM OLD.deleted_at THEN
        PERFORM pool_private.append_audit(a.login, CASE WHEN NEW.deleted_at IS NULL THEN 'undelete' ELSE 'delete' END,
            'customer', NEW.id, NULL, NULL, sim);
    END IF;
    -- Field edits, masked as app::audit_value does.
    FOREACH f IN ARRAY ARRAY['name', 'company', 'phone', 'email', 'city', 'address', 'source', 'stage', 'tags',
                             'notes', 'custom', 'pool_id', 'level', 'industry'] LOOP
        o := oj ->> f;
        nw := nj ->> f;
        IF o IS DISTINCT FROM nw AND NOT (f = 'pool_id' AND NEW.owner_id IS DISTINCT FROM OLD.owner_id) THEN
            bk := bk || f || pool_private.audit_value(f, o);
            ak := ak || f || pool_private.audit_value(f, nw);
        END IF;
    END LOOP;
    IF NEW.forgotten_at IS NULL AND cardinality(bk) > 0 THEN
        PERFORM pool_private.append_audit(a.login, 'edit', 'customer', NEW.id,
            pool_private.jobj(VARIADIC bk), pool_private.jobj(VARIADIC ak), sim);
    END IF;
    RETURN NULL;
END $$;

UPDATE settings SET value = '5' WHERE key = 'schema_version';
