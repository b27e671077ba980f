-- A target list's snapshot keeps the address of each premises (issue 17: AddressBase gives
-- premises addresses; officers see them in lists, exports and challenges). A list is the record
-- of what an authority targeted on a date, so it keeps the address as AddressBase gave it then,
-- as it keeps the status and reasons: a later AddressBase load does not rewrite a list already
-- sent to a supplier. NULL where no AddressBase load held the UPRN, and for every snapshot made
-- before addresses were loaded. Challenges and the officers' premises views read gapmap.address
-- as it is now. Officers only: the public pages show addresses only with the public_addresses
-- setting on (connectivity/settings.py), and they never read lists.
ALTER TABLE gapmap.target_list_premises
    ADD COLUMN address_en  text,
    ADD COLUMN address_cy  text,
    ADD COLUMN parent_uprn bigint,
    ADD COLUMN class_code  text;
