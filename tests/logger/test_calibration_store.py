"""Calibration store (logger/store/calibrations.py) on a real SQLite file: the session
library's, whose migrations make its table."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import datetime

import numpy as np
import pytest

from calibration.models import Calibration, ModelKind, fit_calibration
from logger.errors import BadInput
from logger.store import CalibrationStore, SessionStore, utc_iso

from .test_store import make_meta


def _fit(gain: float = 4000.0, offset: float = 120000.0, masses=(0.0, 0.5, 1.0, 2.0)):
    cal = Calibration.factory(gain, offset)
    return fit_calibration([(float(cal.n_to_counts(m * 9.80665)), m) for m in masses])


def test_save_latest_history(db_path) -> None:
    store = CalibrationStore(db_path)
    assert store.latest("SIM-0001") is None
    assert store.history("SIM-0001") == []
    f1 = _fit(4000.0)
    id1 = store.save("SIM-0001", f1)
    f2 = _fit(4300.0, 121000.0)
    id2 = store.save("SIM-0001", f2, note="after drop")
    store.save("OTHER", _fit(100.0, 5.0))
    assert id2 > id1
    latest = store.latest("SIM-0001")
    assert latest is not None
    assert latest.counts_per_n == pytest.approx(4300.0)
    assert latest.offset_counts == pytest.approx(121000.0)
    assert latest.source == f"stored:{id2}"
    # a fit carries no date (calibration has no clock): the library dates it as it stores it
    assert f2.calibration.created_at is None
    assert latest.created_at == store.get(id2).created_at
    assert datetime.fromisoformat(latest.created_at).tzinfo is not None
    hist = store.history("SIM-0001")
    assert [h.id for h in hist] == [id2, id1]
    assert hist[0].note == "after drop"
    assert hist[1].masses_kg == [0.0, 0.5, 1.0, 2.0]
    np.testing.assert_allclose(hist[1].counts, f1.counts)
    np.testing.assert_allclose(hist[1].residuals_n, f1.residuals_n)
    assert hist[1].r2 == pytest.approx(f1.r2)
    assert store.get(id1).calibration.counts_per_n == pytest.approx(4000.0)
    with pytest.raises(BadInput, match="calibration id 999: not found"):
        store.get(999)


def test_quadratic_round_trips(db_path) -> None:
    true = Calibration(ModelKind.QUADRATIC, (120000.0, 2.5e-4, 3e-10))
    masses = [0.0, 0.5, 1.0, 1.5, 2.0]
    fit = fit_calibration([(float(true.n_to_counts(m * 9.80665)), m) for m in masses])
    assert fit.model is ModelKind.QUADRATIC
    store = CalibrationStore(db_path)
    store.save("Q", fit)
    got = store.latest("Q")
    assert got is not None and got.model is ModelKind.QUADRATIC
    np.testing.assert_allclose(got.coefficients, fit.calibration.coefficients)


def test_table_shape_wal_and_shared_file(db_path) -> None:
    # the session library's file: its sessions are left alone
    with SessionStore(db_path) as sessions:
        sessions.create_session(make_meta())
    store = CalibrationStore(db_path)
    fit = _fit()
    store.save("SIM-0001", fit)
    CalibrationStore(db_path)  # reopening is harmless
    con = sqlite3.connect(db_path)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        cols = {r[1] for r in con.execute("PRAGMA table_info(calibrations)")}
        assert {
            "device_uid",
            "created_at",
            "model",
            "coefficients",
            "masses_kg",
            "counts",
            "residuals_n",
            "r2",
            "nonlinearity_pct",
        } <= cols
        assert con.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
        created = con.execute("SELECT created_at FROM calibrations").fetchone()[0]
        assert created == utc_iso(datetime.fromisoformat(created).timestamp())  # the one format
    finally:
        con.close()


def test_nothing_stored_on_error(db_path) -> None:
    store = CalibrationStore(db_path)
    fit = _fit()
    bad = dataclasses.replace(fit, chosen=dataclasses.replace(fit.chosen, r2=float("nan")))
    with pytest.raises(BadInput, match="non-finite"):
        store.save("SIM-0001", bad)
    with pytest.raises(BadInput, match="device uid"):
        store.save("", fit)
    assert store.history("SIM-0001") == []


def test_not_a_database(tmp_path) -> None:
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(BadInput, match="junk.sqlite3: not a session database"):
        CalibrationStore(path)
