-- Classification runs. Each run writes two narrow tables of its own, gapmap.premises_class_<id>
-- and gapmap.area_stats_<id>, built with CREATE TABLE AS; the views gapmap.premises_class and
-- gapmap.area_stats point at the current run and are replaced in the run's transaction, so readers
-- see the old snapshot or the new one, never a half-built one. Older runs stay for `diff`.
CREATE TABLE gapmap.classification_run (
    id            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    label         text        NOT NULL UNIQUE,     -- e.g. 2026-01: the newest release it used
    releases      jsonb       NOT NULL,            -- {"ofcom-api": "2026-01", "bduk": "2026-01", ...}
    rules_version text        NOT NULL,
    rules         jsonb       NOT NULL,
    premises      bigint      NOT NULL DEFAULT 0,
    synthetic     boolean     NOT NULL DEFAULT false,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    is_current    boolean     NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX classification_run_current_idx ON gapmap.classification_run (is_current)
    WHERE is_current;

-- Welsh Index of Multiple Deprivation ranks (1 = most deprived) by LSOA.
CREATE TABLE gapmap.wimd (
    lsoa_code        text PRIMARY KEY,
    lsoa_name        text,
    wimd_rank        integer NOT NULL CHECK (wimd_rank > 0),
    income           integer, employment integer, health integer, education integer,
    services         integer, housing integer, community_safety integer, physical_env integer,
    run_id           bigint NOT NULL REFERENCES gapmap.load_run (id)
);

-- Hexagon cells (ST_HexagonGrid in EPSG:27700, size = edge length in metres) that hold premises.
-- A code always names the same cell, so every classification run can share them.
CREATE TABLE gapmap.hex_cell (
    code text PRIMARY KEY,            -- H<size>_<i>_<j>
    size integer NOT NULL CHECK (size > 0),
    geom geometry(Polygon, 27700) NOT NULL
);

-- Which area of each level (and which hexagon) holds each premises. It depends only on premises
-- and boundaries, not on speed releases, so classification rebuilds it only when a load of
-- premises or boundaries happened since it was built (membership_state.built_for).
CREATE TABLE gapmap.premises_area (
    level text   NOT NULL,
    uprn  bigint NOT NULL,
    code  text   NOT NULL,
    PRIMARY KEY (level, uprn)
);
CREATE TABLE gapmap.membership_state (
    id         integer PRIMARY KEY CHECK (id = 1),
    built_for  text        NOT NULL,
    built_at   timestamptz NOT NULL DEFAULT now()
);

-- Until the first classification the current results are empty (classify replaces these views).
CREATE VIEW gapmap.premises_class AS
    SELECT NULL::bigint AS uprn, NULL::text AS postcode, NULL::text AS status WHERE false;
CREATE VIEW gapmap.area_stats AS
    SELECT NULL::text AS level, NULL::text AS code, 0::bigint AS premises,
           0::float8 AS expected_below_30, 0::real AS share_below
    WHERE false;
