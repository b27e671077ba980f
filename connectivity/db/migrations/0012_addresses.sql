-- Addresses and address classes of premises, from OS AddressBase Plus or Premium (issue 17:
-- `connectivity load addressbase`). One row per UPRN the latest AddressBase load holds, kept
-- beside gapmap.premises (which comes from OS Open UPRN and knows no addresses).
--
-- kind sums up the AddressBase classification code for counts and targets:
--   residential   R... (dwellings)
--   business      C... and other premises that are not dwellings (M..., U... when postal)
--   dual_use      X (a dwelling and a business in one)
--   not_premises  records no one could connect: land (L...), objects of interest (Z...),
--                 parent shells (P...: the building holding flats, which are premises of their
--                 own), street records and other non-postal records. Kept, with the reason,
--                 and left out of every count and target list (connectivity/classify.py).
-- docs/etl.md ("AddressBase") gives the code-by-code rule and its source.
CREATE TABLE gapmap.address (
    uprn                bigint PRIMARY KEY CHECK (uprn > 0),
    parent_uprn         bigint CHECK (parent_uprn > 0),          -- a flat's building
    class_code          text NOT NULL CHECK (class_code ~ '^[A-Z][A-Z0-9]{0,5}$'),
    kind                text NOT NULL
                        CHECK (kind IN ('residential', 'business', 'dual_use', 'not_premises')),
    not_premises_reason text,                                     -- why, when kind = not_premises
    CHECK ((kind = 'not_premises') = (not_premises_reason IS NOT NULL)),
    address_en          text,                                     -- one line, comma separated
    address_cy          text,                                     -- the Welsh-language variant
    postcode            text,
    run_id              bigint NOT NULL REFERENCES gapmap.load_run (id)
);
CREATE INDEX address_parent_idx ON gapmap.address (parent_uprn) WHERE parent_uprn IS NOT NULL;
CREATE INDEX address_kind_idx ON gapmap.address (kind) WHERE kind = 'not_premises';
