-- A target list's snapshot keeps the speed test figures its reasons quote (issue 17: Ookla tiles
-- as supporting evidence). A premises moved by speed tests has a reason such as "speed tests in
-- its tile average 6.2 Mbit/s download over 40 tests (Speedtest by Ookla, 2026-Q1,
-- non-commercial)": the snapshot must hold the three figures the sentence is written from, as it
-- holds the best download for the other sentences. NULL for premises without a qualifying tile
-- and for every snapshot made before speed tests were evidence.
ALTER TABLE gapmap.target_list_premises
    ADD COLUMN speedtest_down    real,
    ADD COLUMN speedtest_tests   integer,
    ADD COLUMN speedtest_release text;
