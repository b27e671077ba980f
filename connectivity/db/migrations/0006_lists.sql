-- The officers' workspace, part 2: saved target lists. A list is a definition (filters and an
-- optional polygon) owned by an account and belonging to one or more local authorities (its
-- scope); each evaluation of it on a classification run is a snapshot, frozen: the premises as
-- they were classified then. Old snapshots are kept, so what a list said on a date can always be
-- shown and exported again. ORM classes: connectivity/officers/models.py; design: docs/lists.md.

CREATE TABLE gapmap.target_list (
    id          bigserial   PRIMARY KEY,
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200 AND name = btrim(name)),
    notes       text        NOT NULL DEFAULT '' CHECK (length(notes) <= 10000),
    owner_id    bigint      NOT NULL REFERENCES gapmap.account (id) ON DELETE RESTRICT,
    -- the filters as connectivity/officers/listfilters.py writes them (names checked there)
    filters     jsonb       NOT NULL DEFAULT '{}',
    polygon     geometry(MultiPolygon, 27700) CHECK (polygon IS NULL OR ST_IsValid(polygon)),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name)
);

-- The authorities a list belongs to: officers and viewers of any of them see it (scope.py).
-- No foreign key to gapmap.area, as for account_area.
CREATE TABLE gapmap.target_list_area (
    list_id bigint NOT NULL REFERENCES gapmap.target_list (id) ON DELETE CASCADE,
    la_code text   NOT NULL CHECK (la_code ~ '^W06[0-9]{6}$'),
    PRIMARY KEY (list_id, la_code)
);
CREATE INDEX target_list_area_la_idx ON gapmap.target_list_area (la_code);

-- One evaluation of a list on a classification run. The run's label and releases are copied in,
-- so a snapshot still says what it rests on after the run's tables are gone.
CREATE TABLE gapmap.target_list_snapshot (
    id          bigserial   PRIMARY KEY,
    list_id     bigint      NOT NULL REFERENCES gapmap.target_list (id) ON DELETE CASCADE,
    run_id      integer     NOT NULL,
    run_label   text        NOT NULL,
    releases    jsonb       NOT NULL,
    synthetic   boolean     NOT NULL DEFAULT false,
    premises    integer     NOT NULL CHECK (premises >= 0),
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    created_by  text        NOT NULL
);
CREATE INDEX target_list_snapshot_list_idx ON gapmap.target_list_snapshot (list_id, id);

-- The frozen premises of a snapshot: what was known of each then (reasons as codes; their
-- sentences are made with the run's rules when shown or exported), and where it was.
CREATE TABLE gapmap.target_list_premises (
    snapshot_id         bigint  NOT NULL REFERENCES gapmap.target_list_snapshot (id) ON DELETE CASCADE,
    uprn                bigint  NOT NULL,
    la_code             text,
    postcode            text,
    status              text    NOT NULL,
    probability_below   real,
    best_down           real,
    best_up             real,
    band                text,
    uso                 boolean,
    evidence            text    NOT NULL,
    evidence_release    text,
    gigabit_class       text,
    planned_build       boolean,
    contract_name       text,
    supplier            text,
    final_coverage_date text,
    eligible_abc        text, abc_reason     text,
    eligible_lbf        text, lbf_reason     text,
    eligible_uso        text, uso_reason     text,
    eligible_voucher    text, voucher_reason text,
    geom                geometry(Point, 27700) NOT NULL,
    PRIMARY KEY (snapshot_id, uprn)
);
