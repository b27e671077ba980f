-- What the areas page (and the area API) needs per area that depends on boundaries and postcodes
-- only (issue 18: the page cost 159 ms a request at Wales scale, recounting these with ST_Covers
-- over the whole polygons on every request):
--   postcodes  the postcodes whose point the area covers (ST_Covers(area.geom, postcode.geom))
--   la_code    for wards, LSOAs and MSOAs: the local authority covering ST_PointOnSurface of the
--              area (the lowest code if two do), NULL when none does; NULL for other levels
-- Written by connectivity.areas.refresh_area_summary, which `connectivity load boundaries` and
-- `connectivity load postcodes` call inside their load's transaction: a load that fails leaves
-- the summary as it was. docs/performance.md ("The areas page") gives the reason for storing it.
CREATE TABLE gapmap.area_summary (
    level     text NOT NULL,
    code      text NOT NULL,
    postcodes integer NOT NULL CHECK (postcodes >= 0),
    la_code   text,
    PRIMARY KEY (level, code),
    FOREIGN KEY (level, code) REFERENCES gapmap.area (level, code) ON DELETE CASCADE
);

-- the areas loaded before this migration (the same SQL as refresh_area_summary)
INSERT INTO gapmap.area_summary (level, code, postcodes, la_code)
SELECT a.level, a.code,
       (SELECT count(*) FROM gapmap.postcode p WHERE ST_Covers(a.geom, p.geom))::int,
       CASE WHEN a.level IN ('ward', 'lsoa', 'msoa') THEN
           (SELECT l.code FROM gapmap.area l
            WHERE l.level = 'la' AND ST_Covers(l.geom, ST_PointOnSurface(a.geom))
            ORDER BY l.code LIMIT 1) END
FROM gapmap.area a;
