-- The target lists' live counts (connectivity/officers/lists.py) join premises to their
-- authority, and WIMD filters to their LSOA, through gapmap.premises_place, which had no index
-- but its primary key: every count hash-joined all of it (180 MB at Wales scale). With these an
-- admin's "below 30" count for Wales fell from 125 to 12 ms and a WIMD count from 264 to 189 ms
-- (docs/lists.md, "Performance"). The membership rebuild keeps them up (about 1 s more).
CREATE INDEX premises_place_la_idx ON gapmap.premises_place (la);
CREATE INDEX premises_place_lsoa_idx ON gapmap.premises_place (lsoa);
