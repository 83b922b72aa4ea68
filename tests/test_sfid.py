"""Salesforce ids: the 15 → 18 checksum, normalisation of input, and generation."""

import pytest

from cadence_site import sfid
from cadence_site.sfid import InvalidId

# Real ids with their 18-character forms. The suffix is worked out by hand below each
# pair so the test does not merely restate the implementation:
# 001D000000IqhSL: blocks "001D0" (D at position 3 → 0b01000 = 8 → I),
#                  "00000" (0 → A), "IqhSL" (I,S,L at 0,3,4 → 0b11001 = 25 → Z)
# 0015000000VALDt: "00150" (A), "00000" (A), "VALDt" (V,A,L,D at 0..3 → 0b01111 = 15 → P)
# 00Q5e00000AbCdE: "00Q5e" (Q at 2 → 4 → E), "00000" (A),
#                  "AbCdE" (A,C,E at 0,2,4 → 0b10101 = 21 → V)
KNOWN = [
    ("001D000000IqhSL", "001D000000IqhSLIAZ"),
    ("0015000000VALDt", "0015000000VALDtAAP"),
    ("00Q5e00000AbCdE", "00Q5e00000AbCdEEAV"),
    # All upper case in every block: 31 → "5", the last character of the alphabet.
    ("ABCDEFGHIJKLMNO", "ABCDEFGHIJKLMNO555"),
    # No letters at all: every block 0 → "A".
    ("001000000000000", "001000000000000AAA"),
]


@pytest.mark.parametrize(("id15", "id18"), KNOWN)
def test_to18_appends_the_case_checksum(id15, id18):
    assert sfid.to18(id15) == id18
    assert sfid.checksum(id15) == id18[15:]


@pytest.mark.parametrize(("id15", "id18"), KNOWN)
def test_normalize_accepts_15_and_18_characters(id15, id18):
    assert sfid.normalize(id15) == id18
    assert sfid.normalize(id18) == id18
    assert sfid.normalize(f"  {id18}\n") == id18


def test_normalize_repairs_case_from_the_suffix():
    """An 18-character id survives a case-insensitive system: the suffix restores the case."""
    assert sfid.normalize("001d000000iqhsliaz") == "001D000000IqhSLIAZ"
    assert sfid.normalize("001D000000IQHSLIAZ") == "001D000000IqhSLIAZ"
    assert sfid.normalize("0015000000valdtaap") == "0015000000VALDtAAP"


def test_normalize_checks_the_prefix():
    assert sfid.normalize("001D000000IqhSL", prefix="001") == "001D000000IqhSLIAZ"
    with pytest.raises(InvalidId, match="prefix 00Q"):
        sfid.normalize("001D000000IqhSL", prefix="00Q")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "001D000000IqhS",  # 14
        "001D000000IqhSLI",  # 16
        "001D000000IqhSLIA",  # 17
        "001D000000IqhSLIAZZ",  # 19
        "001D000000Iqh-L",  # not alphanumeric
        "001D000000Iqh L",
        "001D000000IqhSLIA!",  # bad suffix character
        "001D000000IqhSLIA9",  # 9 is not in the suffix alphabet (A-Z0-5)
        # The suffix says position 0 of block 3 is upper case, but it is a digit.
        "001D0000001qhSLIAZ",
        None,
        1234567890123456,
    ],
)
def test_normalize_rejects_malformed_ids(bad):
    with pytest.raises(InvalidId):
        sfid.normalize(bad)


def test_normalize_rejects_a_suffix_that_marks_a_digit_upper_case():
    # "00000" has no letters; a suffix claiming any upper-case character there is a lie.
    with pytest.raises(InvalidId, match="checksum"):
        sfid.normalize("001D000000IqhSLIBZ")


def test_invalid_id_is_a_value_error():
    """Callers that already handle ValueError (form cleaning) also catch bad ids."""
    assert issubclass(InvalidId, ValueError)


def test_generated_ids_are_18_characters_with_the_prefix_and_a_valid_checksum():
    for _ in range(200):
        value = sfid.generate("7CT")
        assert len(value) == 18
        assert value.startswith("7CT")
        assert value[15:] == sfid.checksum(value[:15])
        assert sfid.normalize(value, prefix="7CT") == value
        assert sfid.normalize(value.lower()) == value


def test_generated_ids_are_unique_over_many():
    generated = [sfid.generate("00Q") for _ in range(20_000)]
    assert len(set(generated)) == len(generated)
    # Case-safe: still unique when compared without case, as the 18-char form promises.
    assert len({value.lower() for value in generated}) == len(generated)


@pytest.mark.django_db
def test_saving_a_record_generates_its_id_and_keeps_an_imported_one():
    from trackers.models import Lead

    generated = Lead.objects.create(last_name="Nguyen", company="Acme")
    assert len(generated.sf_id) == 18 and generated.sf_id.startswith("00Q")
    imported = Lead.objects.create(sf_id="00Q5e00000AbCdEEAV", last_name="Ito", company="Acme")
    imported.refresh_from_db()
    assert imported.sf_id == "00Q5e00000AbCdEEAV"
    bulk = Lead.objects.bulk_create([Lead(last_name=f"L{i}", company="Acme") for i in range(3)])
    assert all(len(lead.sf_id) == 18 for lead in bulk)
    assert len({lead.sf_id for lead in bulk}) == 3
