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
