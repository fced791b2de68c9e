"""Per-device calibration history, kept in the session library's SQLite file.

Table ``calibrations`` lives beside the session tables (its own ``CREATE TABLE IF NOT
EXISTS``, WAL journal, so the session writer and this store can share the file). Each row
keeps what a reviewer needs to judge a calibration later: when, which model and
coefficients, the masses and readings, residuals, R² and non-linearity. The newest row for
a device is the one every later session uses; old rows are never changed, so a past
session's forces can be re-derived with any calibration from its raw counts.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from calibration.models import Calibration, FitResult, ModelKind, utc_now_iso

from ..errors import BadInput, DeviceError
from ..files import private_file

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calibrations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_uid TEXT NOT NULL,
    created_at TEXT NOT NULL,
    model TEXT NOT NULL,
    coefficients TEXT NOT NULL,
    masses_kg TEXT NOT NULL,
    counts TEXT NOT NULL,
    residuals_n TEXT NOT NULL,
    r2 REAL NOT NULL,
    nonlinearity_pct REAL NOT NULL,
    g REAL NOT NULL DEFAULT 9.80665,
    note TEXT
);
CREATE INDEX IF NOT EXISTS calibrations_by_device ON calibrations (device_uid, created_at);
"""


@dataclass(frozen=True, slots=True)
class StoredCalibration:
    """One row of the history."""

    id: int
    device_uid: str
    created_at: str
    calibration: Calibration  # source "stored:<id>"
    masses_kg: list[float]
    counts: list[float]
    residuals_n: list[float]
    r2: float
    nonlinearity_pct: float
    note: str | None = None


class CalibrationStore:
    """Calibrations by device uid in the SQLite file at ``db_path``."""

    def __init__(self, db_path: str | Path) -> None:
        self.db_path = Path(db_path)
        try:
            private_file(self.db_path)  # the session library's file: owner-only
            con = self._connect()
            try:
                con.executescript(_SCHEMA)
            finally:
                con.close()
        except sqlite3.OperationalError as exc:  # read-only media, a full disk: not bad input
            raise DeviceError(f"{self.db_path}: cannot open ({exc})") from None
        except sqlite3.DatabaseError as exc:
            raise BadInput(f"{self.db_path}: not a usable SQLite database ({exc})") from None
        except OSError as exc:
            raise DeviceError(f"{self.db_path}: {exc.strerror or exc}") from None

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.db_path, timeout=10.0)
        try:
            con.execute("PRAGMA busy_timeout=10000")
            con.execute("PRAGMA journal_mode=WAL")
        except BaseException:
            con.close()
            raise
        return con

    def save(self, uid: str, fit: FitResult, note: str | None = None) -> int:
        """Store a fit under ``uid``; returns the new row id. Validates everything first,
        then writes one row in one transaction (nothing stored on any error)."""
        if not isinstance(uid, str) or not uid.strip():
            raise BadInput(f"device uid: {uid!r} must be a non-empty string")
        cal = fit.calibration
        numbers = [*cal.coefficients, fit.r2, fit.nonlinearity_pct_fs, fit.g]
        numbers += [*map(float, fit.masses_kg), *map(float, fit.counts)]
        numbers += list(map(float, fit.residuals_n))
        if not all(math.isfinite(v) for v in numbers):
            raise BadInput(f"calibration for {uid}: non-finite value in fit, not stored")
        if not (len(fit.masses_kg) == len(fit.counts) == len(fit.residuals_n)):
            raise BadInput(f"calibration for {uid}: masses/counts/residuals differ in length")
        created_at = cal.created_at or utc_now_iso()
        row = (
            uid,
            created_at,
            cal.model.value,
            json.dumps(list(cal.coefficients)),
            json.dumps([float(m) for m in fit.masses_kg]),
            json.dumps([float(c) for c in fit.counts]),
            json.dumps([float(r) for r in fit.residuals_n]),
            float(fit.r2),
            float(fit.nonlinearity_pct_fs),
            float(fit.g),
            note,
        )
        con = self._connect()
        try:
            with con:
                cur = con.execute(
                    "INSERT INTO calibrations (device_uid, created_at, model, coefficients, "
                    "masses_kg, counts, residuals_n, r2, nonlinearity_pct, g, note) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
                new_id = int(cur.lastrowid or 0)
        except sqlite3.Error as exc:
            raise DeviceError(f"{self.db_path}: could not store calibration ({exc})") from None
        finally:
            con.close()
        log.info("stored calibration %d for %s (%s)", new_id, uid, cal.describe())
        return new_id

    def _rows(self, sql: str, args: tuple) -> list[StoredCalibration]:
        con = self._connect()
        try:
            rows = con.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise DeviceError(f"{self.db_path}: could not read calibrations ({exc})") from None
        finally:
            con.close()
        return [_from_row(r) for r in rows]

    _COLUMNS = (
        "id, device_uid, created_at, model, coefficients, masses_kg, counts, residuals_n, "
        "r2, nonlinearity_pct, note"
    )

    def history(self, uid: str) -> list[StoredCalibration]:
        """Every calibration of ``uid``, newest first."""
        return self._rows(
            f"SELECT {self._COLUMNS} FROM calibrations WHERE device_uid = ? "
            "ORDER BY created_at DESC, id DESC",
            (uid,),
        )

    def latest_record(self, uid: str) -> StoredCalibration | None:
        rows = self._rows(
            f"SELECT {self._COLUMNS} FROM calibrations WHERE device_uid = ? "
            "ORDER BY created_at DESC, id DESC LIMIT 1",
            (uid,),
        )
        return rows[0] if rows else None

    def latest(self, uid: str) -> Calibration | None:
        """The calibration every new session of ``uid`` uses, or None (factory only)."""
        rec = self.latest_record(uid)
        return rec.calibration if rec else None

    def get(self, calibration_id: int) -> StoredCalibration:
        """One row by id (for re-deriving a past session with another calibration)."""
        rows = self._rows(
            f"SELECT {self._COLUMNS} FROM calibrations WHERE id = ?", (int(calibration_id),)
        )
        if not rows:
            raise BadInput(f"calibration id {calibration_id}: not found in {self.db_path}")
        return rows[0]


def _from_row(r: tuple) -> StoredCalibration:
    cid, uid, created_at, model, coeffs, masses, counts, residuals, r2, nonlin, note = r
    cal = Calibration(ModelKind(model), tuple(json.loads(coeffs)), f"stored:{cid}", created_at)
    return StoredCalibration(
        id=int(cid),
        device_uid=uid,
        created_at=created_at,
        calibration=cal,
        masses_kg=json.loads(masses),
        counts=json.loads(counts),
        residuals_n=json.loads(residuals),
        r2=float(r2),
        nonlinearity_pct=float(nonlin),
        note=note,
    )
