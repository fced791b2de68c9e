"""Per-device calibration history, kept in the session library's SQLite file.

Table ``calibrations`` is one of the library's tables (a step of
:data:`~logger.store.schema.MIGRATIONS`); opening a :class:`CalibrationStore` creates or
migrates the library like any other opening. Each row keeps what a reviewer needs to
judge a calibration later: when, which model and coefficients, the masses and readings,
residuals, R² and non-linearity. The newest row for a device is the one every later
session uses; old rows are never changed, so a past session's forces can be re-derived
with any calibration from its raw counts.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from calibration.models import Calibration, FitResult, ModelKind

from ..errors import BadInput, DeviceError
from .library import SessionStore
from .schema import utc_iso

log = logging.getLogger(__name__)


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
        # the library's one schema owner creates (0600, WAL) or migrates the file, and
        # refuses a foreign one: BadInput, or StorageError where it cannot be opened
        SessionStore(self.db_path, recover=False).close()

    @contextlib.contextmanager
    def _connection(self, failing: str) -> Iterator[sqlite3.Connection]:
        """A connection for one query (closed after it); any SQLite failure, opening
        included (read-only media, a full disk), is one DeviceError saying what
        ``failing``."""
        con: sqlite3.Connection | None = None
        try:
            con = sqlite3.connect(self.db_path, timeout=10.0)
            con.execute("PRAGMA busy_timeout=10000")
            yield con
        except sqlite3.Error as exc:
            raise DeviceError(f"{self.db_path}: {failing} ({exc})") from None
        finally:
            if con is not None:
                con.close()

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
        created_at = cal.created_at or utc_iso()
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
        with self._connection("could not store calibration") as con, con:
            cur = con.execute(
                "INSERT INTO calibrations (device_uid, created_at, model, coefficients, "
                "masses_kg, counts, residuals_n, r2, nonlinearity_pct, g, note) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            new_id = int(cur.lastrowid or 0)
        log.info("stored calibration %d for %s (%s)", new_id, uid, cal.describe())
        return new_id

    def _rows(self, sql: str, args: tuple) -> list[StoredCalibration]:
        with self._connection("could not read calibrations") as con:
            rows = con.execute(sql, args).fetchall()
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
