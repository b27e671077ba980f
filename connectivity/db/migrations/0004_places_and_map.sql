-- Named places for the search box: OpenStreetMap place points (city, town, village, hamlet,
-- suburb, locality, farm...). ``name_key`` is the name folded for matching (lower case, accents
-- and punctuation removed: "Llanfair-ym-Muallt" and "llanfair ym muallt" meet); the folding is
-- done in Python (connectivity.places.fold) at load and at search, so both sides agree.
CREATE TABLE gapmap.place (
    id          bigserial PRIMARY KEY,
    name        text    NOT NULL,
    name_key    text    NOT NULL,
    kind        text    NOT NULL,
    population  integer,
    geom        geometry(Point, 27700) NOT NULL,
    run_id      bigint  NOT NULL REFERENCES gapmap.load_run (id)
);
CREATE INDEX place_name_key_idx ON gapmap.place (name_key text_pattern_ops);

-- Hexagon statistics are drawn as vector tiles: find the cells in a tile by bounding box.
CREATE INDEX IF NOT EXISTS hex_cell_geom_idx ON gapmap.hex_cell USING gist (geom);

-- Residents' reports that the map is wrong about their premises or postcode. Officers review them
-- (status) and may turn one into an accepted correction. No address or IP address is kept; the
-- contact is whatever the resident chose to give, for the officer's reply only.
CREATE TABLE gapmap.report (
    id              bigserial   PRIMARY KEY,
    created_at      timestamptz NOT NULL DEFAULT now(),
    postcode        text        NOT NULL,
    uprn            bigint,              -- NULL: premises missing from the map, or not chosen
    problem         text        NOT NULL CHECK (problem IN ('slower', 'faster', 'missing', 'other')),
    measured_down   real        CHECK (measured_down >= 0 AND measured_down <= 10000),
    measured_up     real        CHECK (measured_up >= 0 AND measured_up <= 10000),
    message         text        CHECK (length(message) <= 2000),
    contact         text        CHECK (length(contact) <= 200),
    lang            text        NOT NULL CHECK (lang IN ('en', 'cy')),
    classification  text,                -- the classification run the resident was shown
    status          text        NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'accepted', 'rejected'))
);
CREATE INDEX report_status_idx ON gapmap.report (status, created_at);
