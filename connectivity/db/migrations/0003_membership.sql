-- Faster area membership for classification (docs/classification.md, "Statistics").

-- Boundary polygons cut into pieces of at most 64 vertices (ST_Subdivide), so that testing which
-- area holds a point looks at a small polygon with a tight bounding box. Kept beside gapmap.area by
-- a trigger, in the transaction that loads the boundaries: classification never cuts them again.
CREATE TABLE gapmap.area_part (
    level text NOT NULL,
    code  text NOT NULL,
    geom  geometry(Polygon, 27700) NOT NULL,
    FOREIGN KEY (level, code) REFERENCES gapmap.area (level, code)
        ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX area_part_geom_idx ON gapmap.area_part USING gist (geom);
CREATE INDEX area_part_area_idx ON gapmap.area_part (level, code);

CREATE FUNCTION gapmap.area_part_refresh() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM gapmap.area_part WHERE level = NEW.level AND code = NEW.code;
    INSERT INTO gapmap.area_part (level, code, geom)
        SELECT NEW.level, NEW.code, d.geom
        FROM ST_Subdivide(NEW.geom, 64) AS s (geom), ST_Dump(s.geom) AS d
        WHERE GeometryType(d.geom) = 'POLYGON';
    RETURN NULL;
END
$$;
CREATE TRIGGER area_part_refresh AFTER INSERT OR UPDATE OF geom ON gapmap.area
    FOR EACH ROW EXECUTE FUNCTION gapmap.area_part_refresh();

INSERT INTO gapmap.area_part (level, code, geom)
    SELECT a.level, a.code, d.geom
    FROM gapmap.area a, ST_Subdivide(a.geom, 64) AS s (geom), ST_Dump(s.geom) AS d
    WHERE GeometryType(d.geom) = 'POLYGON';

-- Which area of each level holds each premises (NULL: none; the generalised coastline of some
-- boundary sets misses a few premises) and which hexagon cell of each size (ST_HexagonGrid in
-- EPSG:27700, edge in metres: cell H<size>_<i>_<j>). One narrow row per premises instead of one
-- row per premises and level: statistics group every level in one pass. Depends only on premises
-- and boundaries, so classification rebuilds it only after a premises or boundaries load
-- (membership_state.built_for).
DROP TABLE gapmap.premises_area;
CREATE TABLE gapmap.premises_place (
    uprn         bigint NOT NULL,
    country      text,
    la           text,
    ward         text,
    lsoa         text,
    msoa         text,
    constituency text,
    oa           text,
    hex500_i     integer NOT NULL,
    hex500_j     integer NOT NULL,
    hex2000_i    integer NOT NULL,
    hex2000_j    integer NOT NULL,
    hex8000_i    integer NOT NULL,
    hex8000_j    integer NOT NULL
);
-- Rebuild from scratch at the next classification.
DELETE FROM gapmap.membership_state;

-- The same facts one row per premises and level, as before.
CREATE VIEW gapmap.premises_area AS
    SELECT v.level, p.uprn, v.code
    FROM gapmap.premises_place p
    CROSS JOIN LATERAL (VALUES
        ('country', p.country), ('la', p.la), ('ward', p.ward), ('lsoa', p.lsoa),
        ('msoa', p.msoa), ('constituency', p.constituency), ('oa', p.oa),
        ('hex500', 'H500_' || p.hex500_i || '_' || p.hex500_j),
        ('hex2000', 'H2000_' || p.hex2000_i || '_' || p.hex2000_j),
        ('hex8000', 'H8000_' || p.hex8000_i || '_' || p.hex8000_j)) AS v (level, code)
    WHERE v.code IS NOT NULL;
