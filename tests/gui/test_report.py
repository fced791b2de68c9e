"""The A4 report: checked by reading the PDF back (pypdf), not by trusting the writer."""

from __future__ import annotations

import re
import unicodedata

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


@pytest.fixture(scope="module")
def compare_report(qapp, library, tmp_path_factory):
    """The last trainee session's report against the reference (read by several tests):
    its summary, path, and :func:`pdf_text`."""
    db, lib = library
    out = tmp_path_factory.mktemp("compare") / "compare.pdf"
    with SessionStore(db) as store:
        summary = write_report(store, lib.trainee[2], out, reference_sid=lib.reference)
    return summary, out, *pdf_text(out)


def pdf_text(path) -> tuple[int, str, list[str]]:
    """The text of every page; NFKC undoes the ligatures a PDF font may use ("ﬀ" in a
    session id such as ...-3ffe)."""
    reader = PdfReader(path)
    pages = [
        " ".join(unicodedata.normalize("NFKC", p.extract_text()).split()) for p in reader.pages
    ]
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


def test_report_with_reference_has_scores_and_overlays(store, library, compare_report):
    from logger.compare import compare_sessions, session_data_from_store

    _, lib = library
    summary, out, n_pages, text, _ = compare_report
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
    # the recorder stores no calibration: the report says so instead of "from —"
    assert "factory calibration (device-reported; none stored)" in text
    assert "from —" not in text
    # "Upper trapezius L" and "Infraspinatus R" have no partner: no left/right section
    assert "Left / right" not in text


def test_report_calibration_source_date_and_only_complete_left_right_pairs(qapp, library, tmp_path):
    from calibration.models import CalibrationInfo
    from gui.review.demo import write_session

    store = SessionStore(tmp_path / "cal.sqlite3")
    stored = write_session(
        store,
        therapist="T",
        client="C-0100",
        started_at="2026-11-20T10:00:00+00:00",
        plateaus_n=[[30.0], [28.0], [25.0]],
        plan=("Upper trapezius L", "Upper trapezius R", "Gluteus medius L"),
        rate_hz=100.0,
        hold_s=4.0,
        calibration=CalibrationInfo(4012.5, 120100.0, "stored:7", "2026-11-18T08:15:00+00:00"),
    )
    factory = write_session(
        store,
        therapist="T",
        client="C-0101",
        started_at="2026-11-21T10:00:00+00:00",
        plateaus_n=[[30.0], [25.0]],
        plan=("Gluteus medius L", "Infraspinatus"),  # a lone side: no pair at all
        rate_hz=100.0,
        hold_s=4.0,
        calibration=CalibrationInfo(4000.0, 120000.0, "factory+tare"),
    )
    _, text, _ = pdf_text(write_report(store, stored, tmp_path / "stored.pdf").path)
    assert "4012.5 counts/N" in text and "stored:7, 2026-11-18 08:15 UTC" in text
    # the pair with both sides is listed, the lone left side is not
    lr = text[text.index("Left / right") :]
    assert re.search(r"Upper trapezius (29\.\d|30\.\d) N (27\.\d|28\.\d) N \+[12]\.\d N", lr), lr
    assert "Gluteus medius" not in lr
    _, text, _ = pdf_text(write_report(store, factory, tmp_path / "factory.pdf").path)
    assert "factory calibration (device-reported; none stored) + tare at start" in text
    assert "Left / right" not in text
    # the timeline's note explains the limit lines and target bands drawn on it
    assert "warn (orange) and max (red)" in text and "target window" in text
    store.close()


def test_overlay_legend_is_pdf_text_and_reference_is_drawn_first(
    qapp, store, library, compare_report
):
    from gui.review.plots import OverlayPlot
    from logger.compare import compare_sessions, session_data_from_store

    _, lib = library
    text = compare_report[3]
    # the legend is real text beside each overlay (one row per overlay), not pixels in it
    assert text.count("reference mean trial 1 trial 2") == 4, text
    assert text.count("target 25–35 N") >= 1
    # reference under the trainee: lower z, wider and paler pen
    trainee = session_data_from_store(store, lib.trainee[2])
    c = compare_sessions(trainee, session_data_from_store(store, lib.reference))
    pc = c.points[0]
    plot = OverlayPlot(light=True)
    curves = [k for k in trainee.curves if k.point == pc.point]
    plot.show_curves(curves, reference_n=pc.reference_curve_n, dt_s=pc.dt_s, target_n=pc.target_n)
    items = plot.getPlotItem().listDataItems()
    ref = next(i for i in items if i.opts["pen"].widthF() >= 6)
    trials = [i for i in items if i is not ref]
    assert all(t.zValue() > ref.zValue() for t in trials)
    assert [e.label for e in plot.legend_entries][:3] == ["target 25–35 N", "reference", "mean"]
    assert plot.legend is None  # nothing drawn over the curves in the report's plots
    plot.deleteLater()


def test_the_timeline_is_drawn_from_the_prepared_trace_only(store, library):
    """The plot reads the trace that gui/report/data.py loaded; a request for anything
    else (a zoomed range, another resolution) is an error, not a different picture."""
    from gui.report.content import TIMELINE_TRACE, TraceSource
    from gui.report.data import TraceSpec, timeline_trace

    _, lib = library
    rec = store.load_session(lib.trainee[0])
    end = rec.stats.duration_s
    detail = TraceSource(timeline_trace(store, rec, TIMELINE_TRACE))
    t, f = detail.load_forces(rec.id, -0.05 * end, 1.05 * end)
    assert t.size == rec.stats.samples == f.size
    with pytest.raises(RuntimeError, match="asked for samples over 1.0"):
        detail.load_forces(rec.id, 1.0, 2.0)
    with pytest.raises(RuntimeError, match="asked for an envelope"):
        detail.load_overview(rec.id, 0.0, end, max_points=TIMELINE_TRACE.max_points)
    coarse = TraceSource(timeline_trace(store, rec, TraceSpec(300, 100)))
    t, lo, hi = coarse.load_overview(rec.id, 0.0, end, max_points=300)
    assert 0 < t.size <= 300 and lo.size == hi.size == t.size
    with pytest.raises(RuntimeError, match="at most 600 points"):
        coarse.load_overview(rec.id, 0.0, end, max_points=600)
