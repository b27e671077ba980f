-- The officers' workspace, part 3: challenges to the map and the corrections they become.
-- A challenge says the map is wrong about one premises (or a premises is missing from it). It
-- comes from a resident's report, from an officer, or from a bulk challenge file (a recorded
-- load run, `connectivity load challenges`). Officers screen it and decide it; every transition
-- is a row of gapmap.challenge_event (and of the audit log). An upheld challenge becomes
-- evidence when corrections are published: a load run of kind 'correction' makes a new release
-- of source 'correction' holding every correction still in force (gapmap.ev_correction, and
-- gapmap.ev_premises_speed for corrected speeds), which the next classification uses.
-- ORM classes: connectivity/officers/models.py; design: docs/challenges.md.

-- Residents may report that the service shown is not available to them at all.
ALTER TABLE gapmap.report DROP CONSTRAINT report_problem_check;
ALTER TABLE gapmap.report ADD CONSTRAINT report_problem_check
    CHECK (problem IN ('slower', 'faster', 'unavailable', 'missing', 'other'));

-- A resident's private status link: /<lang>/reports/<id>?t=<token>. Only the SHA-256 of the
-- token (192 random bits) is kept; a repeated report gets a token of its own.
CREATE TABLE gapmap.report_token (
    token_hash  text        PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    report_id   bigint      NOT NULL REFERENCES gapmap.report (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX report_token_report_idx ON gapmap.report_token (report_id);

CREATE TABLE gapmap.challenge (
    id                  bigserial   PRIMARY KEY,
    created_at          timestamptz NOT NULL DEFAULT now(),
    kind                text        NOT NULL CHECK (kind IN ('availability', 'speed',
                            'missing_premises', 'not_premises', 'wrong_location', 'planned_build')),
    origin              text        NOT NULL CHECK (origin IN ('report', 'officer', 'bulk')),
    report_id           bigint      UNIQUE REFERENCES gapmap.report (id) ON DELETE RESTRICT,
    load_run_id         bigint      REFERENCES gapmap.load_run (id) ON DELETE RESTRICT,
    source_line         bigint,     -- the bulk file's line
    filed_by            bigint      REFERENCES gapmap.account (id) ON DELETE RESTRICT,
    -- the premises; NULL for a missing premises until it is given a reference when upheld
    uprn                bigint      CHECK (uprn > 0),
    postcode            text,
    la_code             text,       -- scoping (connectivity/officers/scope.py)
    -- where the premises really is (missing premises, wrong location)
    geom                geometry(Point, 27700),
    -- availability: why the service shown cannot be had
    availability_reason text        CHECK (availability_reason IN ('refused', 'no_install',
                                        'excess_charge', 'not_offered')),
    claimed_down        real        CHECK (claimed_down >= 0 AND claimed_down <= 10000),
    claimed_up          real        CHECK (claimed_up >= 0 AND claimed_up <= 10000),
    -- speed tests: [{"date": "2026-11-02", "down": 6.1, "up": 0.8}, ...]; the median is used
    tests               jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(tests) = 'array'),
    evidence_ref        text        CHECK (length(evidence_ref) <= 200),
    observed_on         date,
    note                text        CHECK (length(note) <= 2000),   -- the filer's words
    lang                text        NOT NULL DEFAULT 'en' CHECK (lang IN ('en', 'cy')),
    state               text        NOT NULL DEFAULT 'submitted' CHECK (state IN ('submitted',
                            'accepted', 'screened_out', 'upheld', 'rejected', 'moot')),
    reason              text,       -- the reason code of the latest transition
    message             text        CHECK (length(message) <= 2000), -- the officer's words to the filer
    due_at              timestamptz NOT NULL,  -- the deadline of the current state
    screened_at         timestamptz,
    decided_at          timestamptz,
    decided_by          bigint      REFERENCES gapmap.account (id) ON DELETE RESTRICT,
    -- what an upheld challenge corrects (speed, availability: the best speeds really available)
    corrected_down      real        CHECK (corrected_down >= 0 AND corrected_down <= 10000),
    corrected_up        real        CHECK (corrected_up >= 0 AND corrected_up <= 10000),
    whole_building      boolean     NOT NULL DEFAULT false,
    valid_until         date,
    withdrawn_at        timestamptz,  -- a correction taken back (a conflict resolved the other way)
    CHECK (state NOT IN ('upheld', 'rejected', 'moot', 'screened_out') OR reason IS NOT NULL),
    CHECK (kind NOT IN ('missing_premises', 'wrong_location') OR geom IS NOT NULL),
    CHECK (kind IN ('missing_premises') OR uprn IS NOT NULL)
);
CREATE INDEX challenge_la_state_idx ON gapmap.challenge (la_code, state, due_at);
CREATE INDEX challenge_uprn_idx ON gapmap.challenge (uprn);
CREATE INDEX challenge_postcode_idx ON gapmap.challenge (postcode);
CREATE INDEX challenge_run_idx ON gapmap.challenge (load_run_id);

-- Every transition of a challenge: who, when, from which state to which, why.
CREATE TABLE gapmap.challenge_event (
    id           bigserial   PRIMARY KEY,
    challenge_id bigint      NOT NULL REFERENCES gapmap.challenge (id) ON DELETE CASCADE,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    account_id   bigint      REFERENCES gapmap.account (id) ON DELETE RESTRICT,
    actor        text        NOT NULL,
    from_state   text,
    to_state     text        NOT NULL,
    reason       text,
    message      text
);
CREATE INDEX challenge_event_challenge_idx ON gapmap.challenge_event (challenge_id, id);

-- The corrections of one correction release, one row per premises and kind, with provenance.
-- Corrected speeds are also rows of gapmap.ev_premises_speed under the same release, so the
-- classification reads them as it reads any premises-level evidence.
CREATE TABLE gapmap.ev_correction (
    release_id       integer     NOT NULL REFERENCES gapmap.release (id) ON DELETE CASCADE,
    uprn             bigint      NOT NULL CHECK (uprn > 0),
    kind             text        NOT NULL,
    challenge_id     bigint      NOT NULL REFERENCES gapmap.challenge (id) ON DELETE RESTRICT,
    decided_by       text        NOT NULL,
    decided_at       timestamptz NOT NULL,
    valid_until      date,
    max_down         real,
    max_up           real,
    geom             geometry(Point, 27700),   -- added or moved premises
    previous_geom    geometry(Point, 27700),   -- a moved premises: where it was, to undo the move
    postcode         text,
    added            boolean     NOT NULL DEFAULT false,  -- missing premises, added by correction
    excluded         boolean     NOT NULL DEFAULT false,  -- not a premises: kept, not counted
    no_planned_build boolean     NOT NULL DEFAULT false,  -- the planned build slipped
    PRIMARY KEY (release_id, uprn, kind)
);
CREATE INDEX ev_correction_challenge_idx ON gapmap.ev_correction (challenge_id);

-- A newer Ofcom or BDUK release that disagrees with an upheld correction, listed for review
-- (which side counts meanwhile is the setting correction_conflict_winner).
CREATE TABLE gapmap.correction_conflict (
    id           bigserial   PRIMARY KEY,
    challenge_id bigint      NOT NULL REFERENCES gapmap.challenge (id) ON DELETE CASCADE,
    uprn         bigint      NOT NULL,
    release_id   integer     NOT NULL REFERENCES gapmap.release (id) ON DELETE CASCADE,
    source       text        NOT NULL,
    release      text        NOT NULL,
    detail       jsonb       NOT NULL DEFAULT '{}',
    la_code      text,
    found_at     timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz,
    resolved_by  bigint      REFERENCES gapmap.account (id) ON DELETE RESTRICT,
    resolution   text        CHECK (resolution IN ('keep_correction', 'accept_release')),
    UNIQUE (challenge_id, uprn, release_id)
);
CREATE INDEX correction_conflict_open_idx ON gapmap.correction_conflict (la_code)
    WHERE resolved_at IS NULL;
