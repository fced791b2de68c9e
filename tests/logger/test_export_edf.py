"""EDF+ export: a round trip through pyedflib gives the samples and every annotation."""

from __future__ import annotations

import numpy as np
import pyedflib
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calibration.models import CalibrationInfo, ZeroEvent, ZeroSource
from logger.errors import BadInput
from logger.export.edf import NO_DATA_DIGITAL, annotations_for, write_edf
from logger.records import (
    Alert,
    AlertKind,
    DeviceInfo,
    Gap,
    GapCause,
    Hold,
    Mark,
    MarkSource,
    Point,
    SessionMeta,
)

RATE_HZ = 500.0


def meta(channels: int = 1, rate_hz: float = RATE_HZ) -> SessionMeta:
    return SessionMeta(
        started_at="2026-11-27T14:05:12.250000+00:00",
        device=DeviceInfo("SIM-0001", "1.2.0", "1.0", rate_hz, channels),
        calibration=CalibrationInfo(4000.0, 120000.0, "factory", "2026-11-01T09:00:00Z"),
        config={},
        client="C-0042",
        therapist="Ana Trainee",
        points=[Point(0, "Upper trapezius L"), Point(1, "Upper trapezius R")],
    )


def recording(duration_s: float, channels: int = 1, gap: tuple[float, float] | None = None):
    t = np.arange(0.0, duration_s + 1e-9, 1.0 / RATE_HZ)
    f = np.column_stack([30.0 * np.sin(t / 3.0 + c) ** 2 - 0.4 for c in range(channels)])
    if gap is not None:
        keep = (t < gap[0]) | (t >= gap[1])
        t, f = t[keep], f[keep]
    return t, f


def loader(t, f):
    def load(t0: float, t1: float):
        sel = (t >= t0) & (t < t1)
        return t[sel], f[sel]

    return load


def events():
    marks = [Mark(1.0, 0, MarkSource.DEVICE), Mark(12.5, 1, MarkSource.KEYBOARD)]
    holds = [
        Hold(0, 0, "Upper trapezius L", 2.0, 9.5, 7.5, 28.0, 30.0, 3.1, 9.0, 0.0, 0.0, None),
        Hold(1, 1, "Upper trapezius R", 13.25, 19.0, 5.75, 26.0, 29.0, 2.5, 7.0, 0.0, 0.0, 80.0),
    ]
    alerts = [Alert(5.5, AlertKind.WARN, 41.234, 0, 0)]
    gaps = [Gap(10.0, 10.5, 250, GapCause.DISCONNECT)]
    return marks, holds, alerts, gaps


def test_round_trip_samples_header_and_annotations(tmp_path):
    t, f = recording(20.0, gap=(10.0, 10.5))
    marks, holds, alerts, gaps = events()
    out = tmp_path / "s.edf"
    zeros = [(15.0, -0.25, ZeroSource.USER)]
    summary = write_edf(
        out, meta(), loader(t, f), 20.0, marks=marks, holds=holds, alerts=alerts, gaps=gaps,
        zeros=zeros,
    )  # fmt: skip
    assert summary.filled_samples == 250
    assert not list(tmp_path.glob(".*tmp"))
    with pyedflib.EdfReader(str(out)) as r:
        assert r.filetype == pyedflib.FILETYPE_EDFPLUS
        assert r.getSignalLabels() == ["Force"]
        assert r.getPhysicalDimension(0) == "N"
        assert r.getSampleFrequency(0) == RATE_HZ
        assert r.getDigitalMinimum(0) == NO_DATA_DIGITAL
        assert r.getPatientCode() == "C-0042"
        assert r.getTechnician() == "Ana Trainee"  # EDF stores "Ana_Trainee"
        assert r.getStartdatetime().isoformat() == "2026-11-27T14:05:12"
        pmin, pmax = r.getPhysicalMinimum(0), r.getPhysicalMaximum(0)
        assert pmin < f.min() and pmax > f.max()
        resolution = (pmax - pmin) / 65535
        x = r.readSignal(0)
        dx = r.readSignal(0, digital=True)
        onsets, durations, texts = r.readAnnotations()
    idx = np.rint(t * RATE_HZ).astype(int)
    np.testing.assert_allclose(x[idx], f[:, 0], atol=resolution / 2 + 1e-12)
    in_gap = np.setdiff1d(np.arange(int(20.0 * RATE_HZ) + 1), idx)
    assert in_gap.size == 250
    assert (dx[in_gap] == NO_DATA_DIGITAL).all()
    assert (dx[idx] > NO_DATA_DIGITAL).all()
    # the padding at the end of the last record is no-data too, and annotated as such
    n = int(20.0 * RATE_HZ) + 1
    padding = dx.size - n
    assert padding > 0 and (dx[n:] == NO_DATA_DIGITAL).all()

    got = sorted(zip(onsets.tolist(), durations.tolist(), texts, strict=True))
    want = sorted(
        [
            *annotations_for(meta().points, marks, holds, alerts, gaps, zeros),
            (n / RATE_HZ, padding / RATE_HZ, "No data (end padding)"),
        ]
    )
    assert len(got) == len(want) == 8
    for (o, d, s), (wo, wd, ws) in zip(got, want, strict=True):
        assert s == ws
        assert o == pytest.approx(wo, abs=1e-4)
        assert d == pytest.approx(wd, abs=1e-4)
    assert {s for *_, s in got} == {
        "Mark Upper trapezius L",
        "Mark Upper trapezius R",
        "Hold 1 Upper trapezius L",
        "Hold 2 Upper trapezius R",
        "Alert warn 41.2 N",
        "Gap disconnect 250 lost",
        "Zero user removed -0.25 N",
        "No data (end padding)",
    }


def test_many_annotations_in_a_short_file_all_survive(tmp_path):
    t, f = recording(3.0)
    marks = [Mark(0.01 * i, None, MarkSource.CLI) for i in range(150)]
    out = tmp_path / "many.edf"
    write_edf(out, meta(), loader(t, f), 3.0, marks=marks)
    with pyedflib.EdfReader(str(out)) as r:
        onsets, _, texts = r.readAnnotations()
    is_mark = texts == "Mark -"
    assert is_mark.sum() == 150 and list(texts[~is_mark]) == ["No data (end padding)"]
    np.testing.assert_allclose(np.sort(onsets[is_mark]), [m.t_s for m in marks], atol=1e-4)


def test_multichannel_and_chunking(tmp_path):
    t, f = recording(7.3, channels=3)
    out = tmp_path / "mc.edf"
    write_edf(out, meta(channels=3), loader(t, f), float(t[-1]), chunk_s=2.0)
    with pyedflib.EdfReader(str(out)) as r:
        assert r.signals_in_file == 3
        res = (r.getPhysicalMaximum(1) - r.getPhysicalMinimum(1)) / 65535
        x = np.stack([r.readSignal(c)[: t.size] for c in range(3)], axis=1)
    np.testing.assert_allclose(x, f, atol=res / 2 + 1e-12)


def test_long_point_names_are_shortened_to_fit(tmp_path):
    m = meta()
    m.points = [Point(0, "Sternocleidomastoid, sternal division, upper third L")]
    (a,) = annotations_for(m.points, [Mark(1.0, 0, MarkSource.MOUSE)], [], [], [])
    assert len(a[2]) <= 40 and a[2].startswith("Mark Sternocleido")


def test_bad_start_time_refused_and_nothing_written(tmp_path):
    m = meta()
    m.started_at = "yesterday"
    t, f = recording(1.0)
    out = tmp_path / "bad.edf"
    with pytest.raises(BadInput, match="started_at 'yesterday'"):
        write_edf(out, m, loader(t, f), 1.0)
    assert list(tmp_path.iterdir()) == []


def test_existing_file_untouched_when_writing_fails(tmp_path):
    out = tmp_path / "keep.edf"
    out.write_bytes(b"old")
    t, f = recording(1.0)

    def broken(t0: float, t1: float):
        if t0 > 0.1:
            raise RuntimeError("store went away")
        return t[:10], f[:10]

    with pytest.raises(RuntimeError):
        write_edf(out, meta(), broken, 1.0, chunk_s=0.5)
    assert out.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.edf"]


def stored_session(db_path):
    """A real stored session: raw counts in two runs around a disconnect, events."""
    from logger.store import SessionStore

    store = SessionStore(db_path)
    m = meta()
    sid = store.create_session(m)
    t, f = recording(30.0)
    raw = np.rint(120000.0 + f * 4000.0).astype(np.int32)
    cut0, cut1 = int(10.0 * RATE_HZ), int(10.5 * RATE_HZ)
    store.append_samples(sid, 0, t[:cut0], raw[:cut0])
    store.append_samples(sid, cut1, t[cut1:], raw[cut1:])
    marks, holds, alerts, gaps = events()
    store.add_marks(sid, marks)
    store.add_holds(sid, holds)
    store.add_alerts(sid, alerts)
    store.add_gaps(sid, gaps)
    store.add_zeros(sid, [ZeroEvent(20.0, 120000.0 + 2000.0, ZeroSource.USER)])
    store.finish_session(sid)
    return store, sid


def test_export_edf_from_the_store(tmp_path):
    from logger.export.edf import export_edf

    store, sid = stored_session(tmp_path / "s.sqlite3")
    out = tmp_path / "export.edf"
    summary = export_edf(store, sid, out)
    t, f = store.load_forces(sid)
    with pyedflib.EdfReader(str(out)) as r:
        res = (r.getPhysicalMaximum(0) - r.getPhysicalMinimum(0)) / 65535
        x = r.readSignal(0)
        _, _, texts = r.readAnnotations()
        assert r.getAdmincode() == sid
        assert r.getSampleFrequency(0) == RATE_HZ
    idx = np.rint(t * RATE_HZ).astype(int)
    np.testing.assert_allclose(x[idx], f[:, 0], atol=res / 2 + 1e-12)
    assert summary.filled_samples == 250
    assert "Gap disconnect 250 lost" in texts
    assert "Zero user removed +0.50 N" in texts  # 2000 counts at 4000 counts/N
    assert len(texts) == 7 + ("No data (end padding)" in texts)
    store.close()


def test_export_edf_unknown_session_writes_nothing(tmp_path):
    from logger.export.edf import export_edf

    store, _ = stored_session(tmp_path / "s.sqlite3")
    out = tmp_path / "nothing.edf"
    with pytest.raises(BadInput, match="nope"):
        export_edf(store, "nope", out)
    assert not out.exists() and not list(tmp_path.glob(".*"))  # no temporary either
    store.close()


def test_export_edf_session_without_samples_is_bad_input(tmp_path):
    from logger.export.edf import export_edf
    from logger.store import SessionStore

    store = SessionStore(tmp_path / "s.sqlite3")
    sid = store.create_session(meta())
    store.finish_session(sid, "interrupted")
    out = tmp_path / "empty.edf"
    with pytest.raises(BadInput, match=f"session {sid}: no samples"):
        export_edf(store, sid, out)
    assert not out.exists()
    store.close()


def test_a_hold_the_recording_cut_off_says_so():
    _, holds, _, _ = events()
    holds[1].cut_short = True
    texts = [text for _, _, text in annotations_for(meta().points, [], holds, [], [])]
    assert texts == ["Hold 1 Upper trapezius L", "Hold 2 cut short Upper trapezius R"]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    uid=st.text(st.sampled_from("ABCDEF0123456789-"), min_size=1, max_size=16),
    sid=st.text(st.sampled_from("0123456789abcdef-"), min_size=1, max_size=23),  # ids: 20
    therapist=st.one_of(st.none(), st.text(st.sampled_from("Ana Trainee ÉÖ"), max_size=40)),
    counts_per_n=st.floats(-1e6, 1e6, allow_nan=False).filter(lambda v: abs(v) > 1e-3),
)
def test_header_fields_survive_whole(tmp_path, uid, sid, therapist, counts_per_n):
    """The uid, the session id and the calibration are read back exactly as the session has
    them (EDFlib cuts the recording field's free text silently: a uid or a calibration cut
    short would name another device or state another gain); only the therapist's name may
    be shortened, never past what EDF keeps."""
    m = meta()
    m.device = DeviceInfo(uid, "1.2.0", "1.0", RATE_HZ, 1)
    m.calibration = CalibrationInfo(counts_per_n, 0.0, "stored:12", "2026-11-01T09:00:00Z")
    m.therapist = therapist
    t, f = recording(1.0)
    out = tmp_path / "h.edf"
    write_edf(out, m, loader(t, f), 1.0, session_id=sid)
    with pyedflib.EdfReader(str(out)) as r:
        assert r.getEquipment() == uid
        assert r.getAdmincode() == sid
        assert r.getTransducer(0) == f"force sensor {uid} {counts_per_n:g} counts/N (stored:12)"
        kept = r.getTechnician().replace(" ", "_")
        written = "_".join((therapist or "").encode("ascii", "replace").decode().split())
        assert written.replace("?", "_").startswith(kept.rstrip("~")) or kept == ""
