-- Ofcom fixed performance per postcode keeps every band of lines it publishes (issue 17 item 4:
-- measured speeds beside predicted coverage). 0001 kept only the lines below 30 Mbit/s and the
-- total, so the postcode page could not say how many measured lines reach 300 Mbit/s. The
-- columns follow Ofcom's bands "Number of connections < 2 Mbit/s (number of lines)", 2<5, 5<10,
-- 10<30, 30<300 and >= 300. NULL for rows loaded before this migration (load the release again
-- to fill them) and where the file leaves a band empty. lines_below_30 and lines_total stay,
-- derived from the bands by etl/ofcom.py as before.
ALTER TABLE gapmap.ev_postcode_performance
    ADD COLUMN lines_0_2    integer CHECK (lines_0_2 >= 0),
    ADD COLUMN lines_2_5    integer CHECK (lines_2_5 >= 0),
    ADD COLUMN lines_5_10   integer CHECK (lines_5_10 >= 0),
    ADD COLUMN lines_10_30  integer CHECK (lines_10_30 >= 0),
    ADD COLUMN lines_30_300 integer CHECK (lines_30_300 >= 0),
    ADD COLUMN lines_300    integer CHECK (lines_300 >= 0);
