-- The officers' workspace, part 1: accounts, their authorities, web sessions, API tokens,
-- rate-limit counters and the append-only audit log; residents' reports gain their authority
-- (for scoping), a closing date (for retention) and a purge date.
-- The ORM classes in connectivity/officers/models.py map these tables; this file is the schema
-- (tests/test_officers_models.py checks one against the other).

CREATE TABLE gapmap.account (
    id              bigserial   PRIMARY KEY,
    email           text        NOT NULL CHECK (email = lower(email) AND email ~ '^[^@\s]+@[^@\s]+$'),
    name            text        NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    role            text        NOT NULL CHECK (role IN ('admin', 'officer', 'viewer')),
    -- Welsh Language Standards: asked at first contact, used for everything sent to the person
    lang            text        NOT NULL CHECK (lang IN ('en', 'cy')),
    password_hash   text,                -- argon2id (PHC string); NULL: no password set yet
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    last_sign_in_at timestamptz,
    disabled_at     timestamptz,
    UNIQUE (email)
);

-- The local authorities an officer or viewer works in (admins see every authority). No foreign
-- key to gapmap.area: an account must survive a boundary load that retires or renames a code.
CREATE TABLE gapmap.account_area (
    account_id bigint NOT NULL REFERENCES gapmap.account (id) ON DELETE CASCADE,
    la_code    text   NOT NULL CHECK (la_code ~ '^W06[0-9]{6}$'),
    PRIMARY KEY (account_id, la_code)
);

-- The authorities an account may see: one definition, used by every scoped query
-- (connectivity/officers/scope.py). Admins: every authority loaded; a disabled account: none.
CREATE FUNCTION gapmap.account_authorities(account bigint) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    SELECT a.code FROM gapmap.area a
    WHERE a.level = 'la'
      AND EXISTS (SELECT 1 FROM gapmap.account u
                  WHERE u.id = account AND u.disabled_at IS NULL AND u.role = 'admin')
    UNION
    SELECT aa.la_code FROM gapmap.account_area aa JOIN gapmap.account u ON u.id = aa.account_id
    WHERE aa.account_id = account AND u.disabled_at IS NULL
$$;

-- Signed-in browser sessions, server side: the cookie holds a random id whose SHA-256 is kept
-- here, so signing out, disabling an account or a timeout ends the session for certain.
CREATE TABLE gapmap.account_session (
    id_hash      text        PRIMARY KEY CHECK (id_hash ~ '^[0-9a-f]{64}$'),
    account_id   bigint      NOT NULL REFERENCES gapmap.account (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    ended_at     timestamptz
);
CREATE INDEX account_session_account_idx ON gapmap.account_session (account_id);

-- API tokens for scripts: shown once, kept as SHA-256 (a token is 256 random bits, so a fast
-- hash is enough; passwords use argon2id). Scoped like the account that owns it.
CREATE TABLE gapmap.api_token (
    id           bigserial   PRIMARY KEY,
    account_id   bigint      NOT NULL REFERENCES gapmap.account (id) ON DELETE CASCADE,
    name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    token_hash   text        NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_token_account_idx ON gapmap.api_token (account_id);

-- Rate-limit counters shared by every web worker: one row per counted event. ``key`` is a keyed
-- hash (HMAC with the secret key) of what is counted (a client address, an account, a postcode),
-- never the address itself. Rows older than the longest window are deleted as they are counted.
CREATE TABLE gapmap.rate_event (
    bucket text        NOT NULL,
    key    text        NOT NULL,
    at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rate_event_idx ON gapmap.rate_event (bucket, key, at);

-- The audit log: every sign-in, failed sign-in, sign-out, account and token change, token use,
-- export and decision. Append-only: UPDATE, DELETE and TRUNCATE are refused by triggers.
CREATE TABLE gapmap.audit_event (
    id          bigserial   PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    account_id  bigint      REFERENCES gapmap.account (id) ON DELETE RESTRICT,
    actor       text        NOT NULL,            -- the account's email then, 'cli:<os user>' or 'anonymous'
    action      text        NOT NULL CHECK (action ~ '^[a-z_]+(\.[a-z_]+)*$'),
    object_type text,
    object_id   text,
    detail      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    client      text                              -- the officer's network address, when over HTTP
);
CREATE INDEX audit_event_at_idx ON gapmap.audit_event (at);
CREATE INDEX audit_event_account_idx ON gapmap.audit_event (account_id, at);

CREATE FUNCTION gapmap.audit_is_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'gapmap.audit_event is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_event_no_update BEFORE UPDATE OR DELETE ON gapmap.audit_event
    FOR EACH ROW EXECUTE FUNCTION gapmap.audit_is_append_only();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON gapmap.audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION gapmap.audit_is_append_only();

-- Residents' reports: the authority they fall in (from the postcode), when they were closed
-- (retention counts from then) and when their contact details were purged.
ALTER TABLE gapmap.report
    ADD COLUMN la_code           text,
    ADD COLUMN closed_at         timestamptz,
    ADD COLUMN contact_purged_at timestamptz;
UPDATE gapmap.report r
SET la_code = coalesce(
    (SELECT p.la_code FROM gapmap.postcode p WHERE p.postcode = r.postcode AND p.la_code ~ '^W06'),
    (SELECT a.code FROM gapmap.area a JOIN gapmap.postcode p ON ST_Intersects(a.geom, p.geom)
     WHERE a.level = 'la' AND p.postcode = r.postcode LIMIT 1));
CREATE INDEX report_la_idx ON gapmap.report (la_code, created_at);
UPDATE gapmap.report SET closed_at = created_at WHERE status <> 'new';

-- A report is closed when it leaves 'new'; retention of its contact details counts from then.
CREATE FUNCTION gapmap.report_closed_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status <> 'new' AND NEW.closed_at IS NULL THEN
        NEW.closed_at := now();
    ELSIF NEW.status = 'new' THEN
        NEW.closed_at := NULL;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER report_closed_at BEFORE INSERT OR UPDATE OF status ON gapmap.report
    FOR EACH ROW EXECUTE FUNCTION gapmap.report_closed_at();
