import pytest

from connectivity.postcodes import normalise_postcode, postcode_area


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("CF10 1AA", "CF10 1AA"),
        ("cf101aa", "CF10 1AA"),
        ("CF10  1AA", "CF10 1AA"),
        (" cf10 1aa ", "CF10 1AA"),
        ("CF10\u00a01AA", "CF10 1AA"),
        ('"SA1 1AA"', "SA1 1AA"),
        ("ll577dr", "LL57 7DR"),
        ("W1A0AX", "W1A 0AX"),
        ("NP4 0AA", "NP4 0AA"),
        ("", None),
        (None, None),
        ("CF10", None),
        ("CF10 1A", None),
        ("12345", None),
        ("CF10 1AAA", None),
    ],
)
def test_normalise_postcode(raw, expected):
    assert normalise_postcode(raw) == expected


def test_postcode_area():
    assert postcode_area("CF10 1AA") == "CF"
    assert postcode_area("W1A 0AX") == "W"


@pytest.mark.parametrize("raw", ["CF10 1AA", "cf101aa", "CF10  1AA", " cf10 1aa ", "CF10\u00a01AA",
                                 '"SA1 1AA"', "W1A0AX", "", "CF10", "12345", "CF10 1AAA", "NP4 0AA"])
def test_sql_and_python_normalise_postcodes_alike(db, raw):
    assert db.execute("SELECT gapmap.normalise_postcode(%s)", (raw,)).fetchone()[0] == normalise_postcode(raw)
