"""Pseudonyms by default: the next free client code and text that looks like a person."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logger.privacy import identifying_reasons, next_client_code

codes = st.integers(1, 9999).map(lambda n: f"C-{n:04d}")
capitalised = st.from_regex(r"[A-Z][a-z]{1,10}", fullmatch=True)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Jane Smith", "personal name"),
        ("Smith-Jones, Mary", "personal name"),
        ("María José", "personal name"),
        ("jane.smith@example.org", "e-mail"),
        ("12.03.1980", "date"),
        ("1980-03-12", "date"),
        ("born 3 March 1980", "date"),
        ("March 3, 1980", "date"),
        ("+44 7700 900123", "long number"),
    ],
)
def test_identifying_values_are_flagged(text, reason):
    reasons = identifying_reasons(text)
    assert any(reason in r for r in reasons), reasons


def test_a_date_is_not_also_called_a_phone_number():
    assert identifying_reasons("1980-03-12") == ["contains a date (of birth?)"]


@pytest.mark.parametrize("text", ["C-0042", "C-017", "trainee 2", "Ana", "", None, "  ", "B12"])
def test_pseudonyms_pass(text):
    assert identifying_reasons(text) == []


@given(codes)
def test_generated_client_codes_are_never_flagged(code):
    assert identifying_reasons(code) == []


@given(capitalised, capitalised)
def test_two_capitalised_words_are_a_name(first, last):
    assert "looks like a personal name" in identifying_reasons(f"{first} {last}")


@given(st.from_regex(r"[a-z]{1,12}\.[a-z]{1,12}@[a-z]{2,10}\.(org|com|de)", fullmatch=True))
def test_e_mail_addresses_are_flagged(address):
    assert "contains an e-mail address" in identifying_reasons(address)


def test_next_client_code_follows_the_highest():
    assert next_client_code([]) == "C-0001"
    assert next_client_code(["C-0041", "c-7", None, "Jane", "C-0009"]) == "C-0042"
    assert next_client_code(["C-9999"]) == "C-10000"


@given(st.lists(codes | st.text(max_size=8)))
def test_next_client_code_is_free_and_above_every_code(existing):
    code = next_client_code(existing)
    assert code not in existing
    from logger.privacy import _CODE

    matched = (_CODE.fullmatch(c.strip()) for c in existing)
    numbers = [int(m.group(1)) for m in matched if m and m.group(1).isascii()]
    assert int(code[2:]) == max(numbers, default=0) + 1


def test_library_client_codes_most_recent_first(db_path):
    from logger.store import SessionStore

    from .test_store import make_meta

    with SessionStore(db_path) as store:
        for day, client in [(1, "C-0002"), (2, "C-0001"), (3, None), (4, "C-0002")]:
            store.create_session(make_meta(started_at=f"2026-01-0{day}T10:00:00Z", client=client))
        assert store.clients() == ["C-0002", "C-0001"]
        assert next_client_code(store.clients()) == "C-0003"


def test_record_refuses_a_name_as_client_unless_confirmed(db_path, capsys):
    from logger.cli import main
    from logger.store import SessionStore

    port = "sim://?scenario=demo&speed=0"
    args = ["record", "--port", port, "--db", str(db_path), "--duration", "0.5"]
    assert main([*args, "--client", "Jane Smith"]) == 2
    err = capsys.readouterr().err
    assert "'Jane Smith' looks like a personal name" in err and "--pseudonym-confirmed" in err
    assert not db_path.exists()  # refused before anything was opened
    assert main([*args, "--client", "Jane Smith", "--pseudonym-confirmed"]) == 0
    sid = capsys.readouterr().out.strip().splitlines()[-1]
    with SessionStore(db_path) as store:
        assert store.load_session(sid).meta.client == "Jane Smith"
