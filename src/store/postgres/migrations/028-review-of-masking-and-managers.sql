-- A hostile review of migrations 26 and 27 (session 12), on both backends where it
-- applies.
--
-- (Its masking findings were folded into migration 26, which had not landed yet.)
--
-- Managers:
-- * merges.before holds whole customer rows (phone, e-mail, notes) as they were before a
--   merge, of every team; managers could SELECT it. Only admins read it now; a manager's
--   `pool dedupe undo` asks merge_erased() whether a merge was erased instead.
-- * contacts.name and title (a phone typed into a contact person's name) were revoked
--   from members and viewers by migration 25; managers read contacts_v too now.
--
-- Everyone:
-- * A release reason is free text (`pool release 12 --reason "客户新手机 139…"`), and
--   every role could read ownership_events.reason, of any customer. It is read through
--   ownership_events_v now, masked (mask_in_text) where the reader does not see the
--   customer's contacts; only admins read the column itself.

-- merges.before: admins only. Managers keep the other columns (`pool dedupe undo`
-- reads the merge's survivor, ids and state).
REVOKE SELECT ON merges FROM pool_manager;
GRANT SELECT (id, survivor_id, merged_ids, score, reasons, by_user, at, undone_at) ON merges TO pool_manager;

-- Whether a merge's before-image was erased by `pool forget` (so it cannot be undone),
-- for a manager who may not read the image itself.
CREATE FUNCTION pool_private.merge_erased(p_id bigint) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
    SELECT m.before = '{"erased":true}' FROM merges m, pool_private.actor() a
     WHERE m.id = p_id AND (a.trusted OR a.role IN ('admin', 'manager'))
$$;
REVOKE ALL ON FUNCTION pool_private.merge_erased(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pool_private.merge_erased(bigint) TO pool_admin, pool_manager;

-- A contact person's name and title: through contacts_v, as for members and viewers.
REVOKE SELECT (name, title) ON contacts FROM pool_manager;

CREATE VIEW ownership_events_v WITH (security_barrier) AS
SELECT e.id, e.customer_id, e.event, e.from_user, e.to_user, e.by_user, e.pool_id,
       CASE WHEN e.reason IS NULL OR NOT pool_private.may_hold_contact(e.reason)
                 OR pool_private.may_work_on((SELECT pool_private.my_role()), (SELECT pool_private.my_id()),
                                             (SELECT pool_private.my_team()), c.owner_id,
                                             pool_private.team_of(c.owner_id))
            THEN e.reason ELSE pool_private.mask_in_text(e.reason) END AS reason,
       e.at
  FROM ownership_events e JOIN customers c ON c.id = e.customer_id;
GRANT SELECT ON ownership_events_v TO pool_admin, pool_manager, pool_member, pool_viewer;
-- Whether a hand-over was an allocation (the daily cap counts those), for readers of
-- the rows who may not read the reason it was told by.
ALTER TABLE ownership_events ADD COLUMN allocated boolean
    GENERATED ALWAYS AS (event = 'assign' AND coalesce(reason, '') LIKE 'allocate%') STORED;
-- (a column REVOKE does not narrow a table-wide grant: re-grant all but the reason)
REVOKE SELECT ON ownership_events FROM pool_manager, pool_member, pool_viewer;
GRANT SELECT (id, customer_id, event, from_user, to_user, by_user, pool_id, at, allocated) ON ownership_events
    TO pool_manager, pool_member, pool_viewer;

-- Migration 8's allocation guard (it runs as the writer), counting allocations by the
-- new column instead of the reason.
CREATE OR REPLACE FUNCTION pool_private.allocate_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pool_private, pg_temp
AS $$
DECLARE
    a record;
    r public.pool_rules;
    v record;
    n bigint;
BEGIN
    IF pg_trigger_depth() > 1 OR OLD.owner_id IS NOT NULL OR NEW.owner_id IS NULL
       OR coalesce(pool_private.reason(), '') NOT LIKE 'allocate%' THEN
        RETURN NEW;
    END IF;
    SELECT * INTO a FROM pool_private.actor();
    IF a.trusted THEN
        RETURN NEW;
    END IF;
    r := pool_private.rules_of(OLD.pool_id);
    IF r.allocate = 'off' THEN
        RAISE EXCEPTION 'pool ''%'' does not allocate', pool_private.pool_name(OLD.pool_id) USING ERRCODE = 'PT422';
    END IF;
    PERFORM pool_private.require_allocate(a.team_id, a.role, a.trusted, OLD.pool_id);
    SELECT * INTO v FROM pool_private.allocation_targets(OLD.pool_id) t WHERE t.id = NEW.owner_id;
    IF NOT FOUND THEN
        PERFORM pool_private.forbid(format('user %s is not one pool ''%s'' allocates to',
            pool_private.login_of(NEW.owner_id), pool_private.pool_name(OLD.pool_id)));
    END IF;
    IF r.daily_claims > 0 THEN
        SELECT count(*) INTO n FROM ownership_events
         WHERE to_user = v.id AND at >= pool_private.day_start(v.team_id, pool_private.rule_now(a.role))
           AND (event = 'claim' OR allocated);
        IF n >= r.daily_claims THEN
            RAISE EXCEPTION 'daily claim limit reached: % received %/% today', v.login, n, r.daily_claims
                USING ERRCODE = 'PT411';
        END IF;
    END IF;
    RETURN NEW;
END $$;

UPDATE settings SET value = '28' WHERE key = 'schema_version';
