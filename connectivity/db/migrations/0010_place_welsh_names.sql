-- Welsh names for the search box's places (issue 19). OpenStreetMap's place points carry only
-- OSM's ``name`` (usually the English form: "Cardigan", "Milford Haven"), so "Aberteifi" found
-- nothing. ``name_cy`` is the Welsh Language Commissioner's standard form from the shipped table
-- data/osm/wales_place_names_cy.csv (etl/places.py fills it at load), NULL where the table has no
-- row; ``name_cy_key`` is it folded as ``name_key`` is (connectivity.places.fold), indexed for the
-- same prefix LIKE.
ALTER TABLE gapmap.place
    ADD COLUMN name_cy     text,
    ADD COLUMN name_cy_key text,
    ADD CONSTRAINT place_name_cy_key_check CHECK ((name_cy IS NULL) = (name_cy_key IS NULL));
CREATE INDEX place_name_cy_key_idx ON gapmap.place (name_cy_key text_pattern_ops);
