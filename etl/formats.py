"""The published file formats, column names verbatim (see ../shared/FORMATS.md).

One place for the headers that both the demo-data generator writes and the loaders read, so the
two cannot drift apart. Older spellings live in the loaders' alias maps.
"""

from __future__ import annotations

#: OS Open UPRN (the published CSV starts with a UTF-8 byte order mark)
OS_OPEN_UPRN_HEADER = ["UPRN", "X_COORDINATE", "Y_COORDINATE", "LATITUDE", "LONGITUDE"]

#: Ofcom Connected Nations fixed coverage, postcode level, January 2026 release
OFCOM_PC_COVERAGE_HEADER_2026_01 = [
    "postcode",
    "postcode_space",
    "postcode area",
    "% of premises with 30<300Mbit/s download speed",
    "% of premises with >=300Mbit/s download speed",
    "% of premises with 0<2Mbit/s download speed",
    "% of premises with 2<5Mbit/s download speed",
    "% of premises with 5<10Mbit/s download speed",
    "% of premises with 10<30Mbit/s download speed",
    "SFBB availability (% premises)",
    "UFBB (100Mbit/s) availability (% premises)",
    "UFBB availability (% premises)",
    "% of premises unable to receive 2Mbit/s",
    "% of premises unable to receive 5Mbit/s",
    "% of premises unable to receive 10Mbit/s",
    "% of premises unable to receive 30Mbit/s",
    "Gigabit availability (% premises)",
    "% of premises unable to receive decent broadband from fixed or FWA",
    "% of premises with NGA",
    "% of premises able to receive decent broadband from FWA",
]

#: Ofcom fixed performance, postcode level (measured line speeds; format used to about 2023)
_BANDS = ["< 2", "2<5", "5<10", "10<30", "30<300", ">= 300", ">= 30"]
OFCOM_PC_PERFORMANCE_HEADER = [
    "postcode_space",
    "postcode area",
    "Median download speed (Mbit/s)",
    "Average download speed (Mbit/s)",
    "Minimum download speed (Mbit/s)",
    "Maximum download speed (Mbit/s)",
    "Median upload speed (Mbit/s)",
    "Average upload speed (Mbit/s)",
    "Minimum upload speed (Mbit/s)",
    "Maximum upload speed (Mbit/s)",
    "Average data usage (GB)",
    *[f"Number of connections {band} Mbit/s (number of lines)" for band in _BANDS],
]

#: Ofcom broadband coverage API: the fields of one item of ``Availability`` (one per UPRN)
OFCOM_API_FIELDS = [
    "UPRN",
    "AddressShortDescription",
    "MaxBbPredictedDown",
    "MaxBbPredictedUp",
    "MaxSfbbPredictedDown",
    "MaxSfbbPredictedUp",
    "MaxUfbbPredictedDown",
    "MaxUfbbPredictedUp",
    "MaxPredictedDown",
    "MaxPredictedUp",
]

#: BDUK "OMR and premises in BDUK plans" UPRN release
BDUK_UPRN_HEADER = [
    "uprn",
    "struprn",
    "bduk_recognised_premises",
    "country",
    "postcode",
    "lot_id",
    "lot_name",
    "subsidy_control_status",
    "current_gigabit",
    "future_gigabit",
    "local_authority_district_ons_code",
    "local_authority_district_ons",
    "region_ons_code",
    "region_ons",
    "bduk_gis",
    "bduk_gis_contract_scope",
    "bduk_gis_final_coverage_date",
    "bduk_gis_contract_name",
    "bduk_gis_supplier",
    "bduk_vouchers",
    "bduk_vouchers_contract_name",
    "bduk_vouchers_supplier",
    "bduk_superfast",
    "bduk_superfast_contract_name",
    "bduk_superfast_supplier",
    "bduk_hubs",
    "bduk_hubs_contract_name",
    "bduk_hubs_supplier",
]
BDUK_STATUSES = ("Gigabit White", "Gigabit Grey/Black", "Gigabit Under Review")


def ofcom_pc_coverage_name(release: str, area: str, residential: bool = False) -> str:
    """``202601_fixed_pc_coverage_r01_CF.csv`` for release ``2026-01`` and area ``CF``."""
    stamp = release.replace("-", "")
    kind = "pc_coverage_res" if residential else "pc_coverage"
    return f"{stamp}_fixed_{kind}_r01_{area}.csv"


def ofcom_pc_performance_name(release: str) -> str:
    return f"{release.replace('-', '')}_fixed_pc_performance_r01.csv"


def bduk_release_name(release: str, region: str, lad: str) -> str:
    """``202601_BDUK_uprn_release_Wales_Vale_of_Glamorgan.csv``."""
    return f"{release.replace('-', '')}_BDUK_uprn_release_{region}_{lad.replace(' ', '_')}.csv"

#: Ookla open data, "Speedtest by Ookla Global Fixed and Mobile Network Performance Maps": the
#: columns of the Parquet tiles (``YYYY-MM-01_performance_fixed_tiles.parquet``; speeds in kbit/s
#: and latency in ms as int64, ``tile`` the zoom-16 polygon as WKT in EPSG:4326)
OOKLA_PARQUET_COLUMNS = ["quadkey", "tile", "avg_d_kbps", "avg_u_kbps", "avg_lat_ms", "tests",
                         "devices"]
#: in files from 2023 on, beside them: latency under load (float64, may be null)
OOKLA_PARQUET_LATER_COLUMNS = ["avg_lat_down_ms", "avg_lat_up_ms"]
#: the zipped Shapefile has the tile as its geometry and no ``tile`` column (field names are
#: cut to 10 characters: ``avg_lat_do``, ``avg_lat_up``)
OOKLA_SHAPEFILE_FIELDS = ["quadkey", "avg_d_kbps", "avg_u_kbps", "avg_lat_ms", "tests", "devices"]
OOKLA_ZOOM = 16


def ookla_name(release: str, kind: str = "fixed") -> str:
    """``2025-10-01_performance_fixed_tiles.parquet`` for release ``2025-Q4``."""
    year, quarter = release.split("-Q")
    return f"{year}-{(int(quarter) - 1) * 3 + 1:02d}-01_performance_{kind}_tiles.parquet"
