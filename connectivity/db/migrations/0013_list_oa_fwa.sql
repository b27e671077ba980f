-- A target list's snapshot keeps the output-area counts and the fixed wireless figure its
-- reasons quote (issue 17: output-area coverage and fixed wireless in the classification), as
-- 0011 made it keep the speed test figures. A premises whose status rests on Ofcom's output-area
-- counts has a reason such as "40 of 52 premises in output area W00001234 cannot get 30 Mbit/s";
-- a premises below decent broadband by fixed line one such as "Ofcom says 60% of premises in the
-- postcode can get decent broadband by fixed wireless". NULL where the run had no such figure
-- and for every snapshot made before they were evidence. The exports of a list carry, beside
-- them, the speed tests' upload and move and the AddressBase kind of each premises.
ALTER TABLE gapmap.target_list_premises
    ADD COLUMN oa_code          text,
    ADD COLUMN oa_premises      integer,
    ADD COLUMN oa_unable_30     integer,
    ADD COLUMN oa_unable_decent integer,
    ADD COLUMN fwa_decent_pct   real,
    ADD COLUMN speedtest_up     real,
    ADD COLUMN speedtest_moved  text,
    ADD COLUMN address_kind     text;
