-- Schema v1. The reasoning behind every choice is in docs/architecture.md.
-- Canonical geometry is British National Grid (EPSG:27700): metres, exact areas and distances for
-- clustering and buffers in Wales. Areas and postcodes also carry a web-mercator copy (EPSG:3857)
-- as a generated column; premises do not (it would cost a third of a bulk load; tiles transform
-- the few thousand points of a tile instead).

CREATE EXTENSION IF NOT EXISTS postgis;

-- 'cf101aa', ' CF10  1AA' -> 'CF10 1AA'; NULL when it is not shaped like a UK postcode.
-- The same rule as connectivity.postcodes.normalise_postcode (a test keeps them equal).
CREATE FUNCTION gapmap.normalise_postcode(raw text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN c ~ '^[A-Z]{1,2}[0-9][0-9A-Z]?[0-9][A-Z]{2}$'
                THEN left(c, length(c) - 3) || ' ' || right(c, 3) END
    FROM (SELECT upper(regexp_replace(raw, '[[:space:]' || chr(160) || '"'']', '', 'g')) AS c) s
$$;

-- One row per load attempt. Data and its successful run record commit together; a failed load rolls
-- back and then records only a 'failed' run with its message.
CREATE TABLE gapmap.load_run (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          text        NOT NULL,                 -- boundaries, postcodes, uprn, ofcom-coverage, ...
    release       text,                                 -- source release label, e.g. 2026-01
    status        text        NOT NULL CHECK (status IN ('succeeded', 'failed')),
    fingerprint   text        NOT NULL,                 -- sha256 of kind + options + file hashes
    files         jsonb       NOT NULL DEFAULT '[]',    -- [{name, sha256, bytes, format}]
    options       jsonb       NOT NULL DEFAULT '{}',
    rows_read     bigint      NOT NULL DEFAULT 0 CHECK (rows_read >= 0),
    rows_loaded   bigint      NOT NULL DEFAULT 0 CHECK (rows_loaded >= 0),
    rows_rejected bigint      NOT NULL DEFAULT 0 CHECK (rows_rejected >= 0),
    -- rows skipped on purpose (outside --within, raster cells without data): counted, not stored
    rows_filtered bigint      NOT NULL DEFAULT 0 CHECK (rows_filtered >= 0),
    synthetic     boolean     NOT NULL DEFAULT false,   -- demo data, labelled up to the map
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    message       text,
    CONSTRAINT load_run_rows_add_up
        CHECK (status <> 'succeeded' OR rows_read = rows_loaded + rows_rejected + rows_filtered)
);
CREATE INDEX load_run_fingerprint_idx ON gapmap.load_run (fingerprint) WHERE status = 'succeeded';
CREATE INDEX load_run_kind_idx ON gapmap.load_run (kind, release);

-- Every input row that was not loaded, with where it was and why.
CREATE TABLE gapmap.reject (
    run_id      bigint NOT NULL REFERENCES gapmap.load_run (id) ON DELETE CASCADE,
    file        text   NOT NULL,
    line        bigint,            -- 1-based physical line (header is line 1); feature index for vector files
    column_name text,
    value       text,
    reason      text   NOT NULL
);
CREATE INDEX reject_run_idx ON gapmap.reject (run_id);

-- A release of a source dataset (Ofcom Connected Nations 2026-01, BDUK 2026-05, ...).
-- Evidence rows hang off a release, so releases sit side by side and history is kept.
CREATE TABLE gapmap.release (
    id        integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source    text NOT NULL,        -- ofcom-coverage, ofcom-performance, ofcom-api, bduk, speed-raster, ookla, correction
    label     text NOT NULL,        -- e.g. 2026-01
    published date,
    run_id    bigint REFERENCES gapmap.load_run (id) ON DELETE SET NULL,
    synthetic boolean NOT NULL DEFAULT false,  -- demo data is labelled as such all the way to the map
    UNIQUE (source, label)
);

-- Statistical and administrative areas: local authorities (W06), wards (W05), LSOAs (W01),
-- MSOAs (W02), constituencies, output areas. Codes carry their vintage (LAD25CD, WD13CD, ...).
CREATE TABLE gapmap.area (
    level       text NOT NULL CHECK (level IN ('country', 'la', 'ward', 'lsoa', 'msoa', 'constituency', 'oa')),
    code        text NOT NULL CHECK (code ~ '^[A-Z][0-9A-Z]{2,15}$'),
    name_en     text NOT NULL,
    name_cy     text,
    vintage     text,                       -- the code column's prefix, e.g. LAD25
    run_id      bigint NOT NULL REFERENCES gapmap.load_run (id),
    geom        geometry(MultiPolygon, 27700) NOT NULL CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom)),
    geom_3857   geometry(MultiPolygon, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED,
    -- light copy for overview maps and GeoJSON: 50 m tolerance keeps shapes, drops ~90 % of vertices
    geom_simple geometry(MultiPolygon, 4326)
        GENERATED ALWAYS AS (ST_Multi(ST_Transform(ST_SimplifyPreserveTopology(geom, 50), 4326))) STORED,
    PRIMARY KEY (level, code)
);
CREATE INDEX area_geom_idx ON gapmap.area USING gist (geom);
CREATE INDEX area_geom_3857_idx ON gapmap.area USING gist (geom_3857);

-- Postcode units (centroids). Area membership comes from spatial joins; the codes a source
-- publishes are kept as published for cross-checks.
CREATE TABLE gapmap.postcode (
    postcode           text PRIMARY KEY CHECK (postcode ~ '^[A-Z]{1,2}[0-9][0-9A-Z]? [0-9][A-Z]{2}$'),
    geom               geometry(Point, 27700) NOT NULL,
    geom_3857          geometry(Point, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED,
    positional_quality smallint,   -- OS PQI: 10 best ... 60 estimated
    la_code            text,       -- as published by the source (Code-Point DC, NSPL lad*cd)
    ward_code          text,
    run_id             bigint NOT NULL REFERENCES gapmap.load_run (id)
);
CREATE INDEX postcode_geom_idx ON gapmap.postcode USING gist (geom);
CREATE INDEX postcode_geom_3857_idx ON gapmap.postcode USING gist (geom_3857);

-- Premises: one row per UPRN. Narrow on purpose: classification writes its own tables. Bulk
-- loads rebuild this table and swap it in (etl/premises_table.py): never reference it by foreign
-- key or view.
CREATE TABLE gapmap.premises (
    uprn        bigint PRIMARY KEY CHECK (uprn > 0),
    geom        geometry(Point, 27700) NOT NULL,
    postcode    text,    -- from an address source or the BDUK release; no FK: sources arrive in any order
    approximate boolean NOT NULL DEFAULT false,  -- placed at its postcode centroid (no coordinates)
    run_id      bigint NOT NULL REFERENCES gapmap.load_run (id)
);
CREATE INDEX premises_geom_idx ON gapmap.premises USING gist (geom);
CREATE INDEX premises_postcode_idx ON gapmap.premises (postcode);

-- ---------------------------------------------------------------------------------------------
-- Speed evidence, one narrow table per granularity, every row tied to a release.
-- Speeds are Mbit/s; NULL means "not available" (Ofcom's -1 sentinel); percentages are 0-100.
-- ---------------------------------------------------------------------------------------------

-- Premises-level predictions: Ofcom coverage API, operator returns, accepted corrections,
-- raster samples. The release's source says how strong the evidence is.
CREATE TABLE gapmap.ev_premises_speed (
    release_id   integer NOT NULL REFERENCES gapmap.release (id) ON DELETE CASCADE,
    uprn         bigint  NOT NULL,
    max_down     real CHECK (max_down >= 0),
    max_up       real CHECK (max_up >= 0),
    bb_down      real CHECK (bb_down >= 0),
    bb_up        real CHECK (bb_up >= 0),
    sfbb_down    real CHECK (sfbb_down >= 0),
    sfbb_up      real CHECK (sfbb_up >= 0),
    ufbb_down    real CHECK (ufbb_down >= 0),
    ufbb_up      real CHECK (ufbb_up >= 0),
    PRIMARY KEY (release_id, uprn)
);

-- BDUK "OMR and premises in BDUK plans" UPRN release.
CREATE TABLE gapmap.ev_bduk (
    release_id                 integer NOT NULL REFERENCES gapmap.release (id) ON DELETE CASCADE,
    uprn                       bigint  NOT NULL,
    postcode                   text,
    bduk_recognised_premises   boolean,
    subsidy_control_status     text CHECK (subsidy_control_status IN
                                   ('Gigabit White', 'Gigabit Grey/Black', 'Gigabit Under Review')),
    current_gigabit            boolean,
    future_gigabit             boolean,
    lot_id                     text,
    lot_name                   text,
    la_code                    text,
    gis                        boolean,
    gis_contract_scope         text,
    gis_final_coverage_date    text,     -- published as free text (dates, quarters)
    gis_contract_name          text,
    gis_supplier               text,
    vouchers                   boolean,
    superfast                  boolean,
    superfast_contract_name    text,
    hubs                       boolean,
    PRIMARY KEY (release_id, uprn)
);

-- Ofcom Connected Nations fixed coverage per postcode: percentages only, no premises counts.
CREATE TABLE gapmap.ev_postcode_coverage (
    release_id        integer NOT NULL REFERENCES gapmap.release (id) ON DELETE CASCADE,
    postcode          text    NOT NULL,
    residential_only  boolean NOT NULL DEFAULT false,
    all_premises      integer CHECK (all_premises >= 0),   -- only in some older files
    pct_down_0_2      real CHECK (pct_down_0_2 BETWEEN 0 AND 100),
    pct_down_2_5      real CHECK (pct_down_2_5 BETWEEN 0 AND 100),
    pct_down_5_10     real CHECK (pct_down_5_10 BETWEEN 0 AND 100),
    pct_down_10_30    real CHECK (pct_down_10_30 BETWEEN 0 AND 100),
    pct_down_30_300   real CHECK (pct_down_30_300 BETWEEN 0 AND 100),
    pct_down_300      real CHECK (pct_down_300 BETWEEN 0 AND 100),
    sfbb_pct          real CHECK (sfbb_pct BETWEEN 0 AND 100),
    ufbb100_pct       real CHECK (ufbb100_pct BETWEEN 0 AND 100),
    ufbb_pct          real CHECK (ufbb_pct BETWEEN 0 AND 100),
    gigabit_pct       real CHECK (gigabit_pct BETWEEN 0 AND 100),
    unable_2_pct      real CHECK (unable_2_pct BETWEEN 0 AND 100),
    unable_5_pct      real CHECK (unable_5_pct BETWEEN 0 AND 100),
    unable_10_pct     real CHECK (unable_10_pct BETWEEN 0 AND 100),
    unable_30_pct     real CHECK (unable_30_pct BETWEEN 0 AND 100),
    unable_decent_pct real CHECK (unable_decent_pct BETWEEN 0 AND 100),
    nga_pct           real CHECK (nga_pct BETWEEN 0 AND 100),
    fwa_decent_pct    real CHECK (fwa_decent_pct BETWEEN 0 AND 100),
    PRIMARY KEY (release_id, postcode, residential_only)
);

-- Ofcom coverage per output area or local authority: counts as well as percentages.
CREATE TABLE gapmap.ev_area_coverage (
    release_id          integer NOT NULL REFERENCES gapmap.release (id) ON DELETE CASCADE,
    level               text    NOT NULL CHECK (level IN ('oa', 'la')),
    code                text    NOT NULL,
    all_premises        integer CHECK (all_premises >= 0),
    matched_premises    integer CHECK (matched_premises >= 0),
    unable_30_count     integer CHECK (unable_30_count >= 0),
    unable_decent_count integer CHECK (unable_decent_count >= 0),
    sfbb_pct            real CHECK (sfbb_pct BETWEEN 0 AND 100),
    gigabit_pct         real CHECK (gigabit_pct BETWEEN 0 AND 100),
    full_fibre_pct      real CHECK (full_fibre_pct BETWEEN 0 AND 100),
    unable_30_pct       real CHECK (unable_30_pct BETWEEN 0 AND 100),
    unable_decent_pct   real CHECK (unable_decent_pct BETWEEN 0 AND 100),
    PRIMARY KEY (release_id, level, code)
);

-- Ofcom fixed performance per postcode: measured line speeds (take-up), not availability.
CREATE TABLE gapmap.ev_postcode_performance (
    release_id     integer NOT NULL REFERENCES gapmap.release (id) ON DELETE CASCADE,
    postcode       text    NOT NULL,
    median_down    real CHECK (median_down >= 0),
    avg_down       real CHECK (avg_down >= 0),
    min_down       real CHECK (min_down >= 0),
    max_down       real CHECK (max_down >= 0),
    median_up      real CHECK (median_up >= 0),
    avg_up         real CHECK (avg_up >= 0),
    min_up         real CHECK (min_up >= 0),
    max_up         real CHECK (max_up >= 0),
    lines_below_30 integer CHECK (lines_below_30 >= 0),
    lines_total    integer CHECK (lines_total >= 0),
    PRIMARY KEY (release_id, postcode)
);

-- Crowd-sourced speed tests on zoom-16 quadkey tiles (Ookla open data; CC BY-NC-SA).
CREATE TABLE gapmap.ev_speedtest_tile (
    release_id integer NOT NULL REFERENCES gapmap.release (id) ON DELETE CASCADE,
    quadkey    text    NOT NULL CHECK (quadkey ~ '^[0-3]{16}$'),
    avg_down   real CHECK (avg_down >= 0),
    avg_up     real CHECK (avg_up >= 0),
    avg_lat_ms real,
    tests      integer CHECK (tests >= 0),
    devices    integer CHECK (devices >= 0),
    geom       geometry(Polygon, 27700) NOT NULL,
    PRIMARY KEY (release_id, quadkey)
);
CREATE INDEX ev_speedtest_tile_geom_idx ON gapmap.ev_speedtest_tile USING gist (geom);
