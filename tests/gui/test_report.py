"""The A4 report: checked by reading the PDF back (pypdf), not by trusting the writer."""

from __future__ import annotations

import pytest
from pypdf import PdfReader

from gui.format import hms
from gui.report import write_report
from gui.review.demo import build_demo_library
from logger.cli import main
from logger.errors import BadInput
from logger.store import SessionStore


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    db = tmp_path_factory.mktemp("report") / "sessions.sqlite3"
    store = SessionStore(db)
    lib = build_demo_library(store, points=4, trials=2, hold_s=6.0, rate_hz=200.0)
    store.close()
    return db, lib


@pytest.fixture
def store(library):
    s = SessionStore(library[0])
    yield s
    s.close()


def pdf_text(path) -> tuple[int, str, list[str]]:
    reader = PdfReader(path)
    pages = [" ".join(p.extract_text().split()) for p in reader.pages]
    return len(reader.pages), " ".join(pages), pages


def test_report_has_metadata_points_and_every_hold_row(qapp, store, library, tmp_path):
    _, lib = library
    sid = lib.trainee[1]
    out = tmp_path / "session.pdf"
    summary = write_report(store, sid, out)
    n_pages, text, pages = pdf_text(out)
    rec = store.load_session(sid)
    assert n_pages == summary.pages >= 1
    assert pages[0].startswith("Pressure session report")
    assert f"page {n_pages} of {n_pages}" in pages[-1]
    for needle in (sid, "C-0003", "A. Trainee", "SIM-0001", "4000 counts/N", "2026-11-01 09:00"):
        assert needle in text, needle
    for p in rec.points:
        assert p.name in text
    # every hold is a row: number, point, start, duration, mean
    for h in rec.holds:
        row = f"{h.index + 1} {h.point} {hms(h.start_s)} {h.duration_s:.1f} s {h.mean_n:.1f} N"
        assert row in text, row
    # the gap of this session is listed, and the per-point statistics are there
    assert "Gaps" in text and "disconnect" in text
    assert "Per-point statistics" in text and "Left / right" in text
    assert "Comparison with the reference" not in text


def test_report_with_reference_has_scores_and_overlays(qapp, store, library, tmp_path):
    from logger.compare import compare_sessions, session_data_from_store

    _, lib = library
    out = tmp_path / "compare.pdf"
    summary = write_report(store, lib.trainee[2], out, reference_sid=lib.reference)
    n_pages, text, pages = pdf_text(out)
    assert summary.compared_points == 4
    assert n_pages == summary.pages >= 2
    c = compare_sessions(
        session_data_from_store(store, lib.trainee[2]),
        session_data_from_store(store, lib.reference),
    )
    assert "Comparison with the reference" in text and lib.reference in text
    assert f"RMS error {c.rms_error_n:.1f} N" in text
    for p in c.points:
        assert f"{p.point} 2/2 {p.rms_error_n:.1f} N {p.mean_diff_n:+.1f} N" in text
    assert "Overlays" in text and "Progress against this reference" in text
    assert "Alerts" in text and "warn" in text  # the overshoot of the last session
    # overlays and progress are images, one per point plus timeline and progress plot
    images = sum(len(page.images) for page in PdfReader(out).pages)
    assert images == 1 + 4 + 1


def test_unknown_session_is_bad_input_and_nothing_is_written(qapp, store, tmp_path):
    out = tmp_path / "none.pdf"
    with pytest.raises(BadInput, match="nope"):
        write_report(store, "nope", out)
    assert list(tmp_path.iterdir()) == []


def test_cli_report(library, tmp_path, capsys):
    db, lib = library
    out = tmp_path / "cli.pdf"
    rc = main(
        ["report", lib.trainee[0], "--out", str(out), "--reference", lib.reference, "--db", str(db)]
    )
    assert rc == 0
    assert out.is_file() and out.read_bytes().startswith(b"%PDF")
    n_pages, text, _ = pdf_text(out)
    assert f"{n_pages} pages" in capsys.readouterr().out
    assert "C-0002" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["unknown-session"], "unknown-session"),
        (["{trainee}", "--reference", "20990101-000000-ffff"], "20990101-000000-ffff"),
        (["{trainee}", "--reference", "{trainee}"], "own reference"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(library, tmp_path, capsys, args, message):
    db, lib = library
    out = tmp_path / "bad.pdf"
    args = [a.format(trainee=lib.trainee[0]) for a in args]
    rc = main(["report", *args, "--out", str(out), "--db", str(db)])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_cli_missing_database_is_not_created(tmp_path, capsys):
    db = tmp_path / "missing.sqlite3"
    rc = main(["report", "x", "--out", str(tmp_path / "r.pdf"), "--db", str(db)])
    assert rc == 2 and "missing.sqlite3" in capsys.readouterr().err
    assert not db.exists()


def test_report_of_a_session_recorded_from_the_simulator(qapp, tmp_path, capsys):
    """End to end: built-in demo scenario → `record` → store → report → text."""
    db = tmp_path / "rec.sqlite3"
    points = "Upper trapezius L;Levator scapulae;Infraspinatus R;Rhomboid"
    rc = main(
        [
            "record",
            "--port",
            "sim://report-e2e?scenario=demo&speed=0",
            "--db",
            str(db),
            "--points",
            points,
            "--client",
            "C-0777",
            "--therapist",
            "Recorder",
        ]
    )
    assert rc == 0
    sid = capsys.readouterr().out.strip().splitlines()[-1]
    out = tmp_path / "rec.pdf"
    assert main(["report", sid, "--out", str(out), "--db", str(db)]) == 0
    _, text, _ = pdf_text(out)
    store = SessionStore(db)
    rec = store.load_session(sid)
    store.close()
    assert rec.holds and rec.alerts  # the demo has holds and one over-limit moment
    assert "C-0777" in text and "Recorder" in text and "SIM-DEMO-0001" in text
    for name in points.split(";"):
        assert name in text
    for h in rec.holds:
        assert f"{h.index + 1} {h.point} {hms(h.start_s)} {h.duration_s:.1f} s" in text
