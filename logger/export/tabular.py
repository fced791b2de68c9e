"""Session exports (docs/EXPORTS.md): JSON ``pressure-logger/session-v1``, per-sample CSV, EDF+.

Exports are in SI units (newtons, seconds), with forces derived from raw counts by the
session's current calibration and its zero events in time order
(:meth:`logger.store.SessionRecord.force_timeline`, the conversion every view uses).
Every export is written to a temporary file beside the target and renamed into place, so
an error never leaves a partial file; CSV is streamed chunk by chunk, so memory stays
bounded however long the session.
Every export is logged in the library's audit trail; ``deidentify=True`` writes it
through a :class:`~logger.deidentify.DeidentifiedStore` (no names, shifted dates).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import enum
import json
import logging
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..clinical import change_between, load_clinical, results_document
from ..deidentify import DeidentifiedStore, LibraryReader, SessionReader, deidentified
from ..drills import TrialScore
from ..errors import BadInput
from ..files import atomic_write
from ..guided import ProfileScore
from ..ppt import PptTrial
from ..records import Rating
from ..store import AuditAction, SessionRecord

log = logging.getLogger(__name__)

SCHEMA = "pressure-logger/session-v1"
T_FMT = "%.6f"  # µs: finer than any device clock we read
FORCE_FMT = "%.5f"  # 10 µN: finer than one ADC count of any sensor we calibrate


class ExportFormat(enum.StrEnum):
    CSV = "csv"
    JSON = "json"
    EDF = "edf"


def _clean(value: Any) -> Any:
    """JSON-ready copy: enums → values, tuples → lists, NaN/inf → null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        return _clean(value.item())
    return value


def _ordered(d: dict[str, Any], first: tuple[str, ...]) -> dict[str, Any]:
    """``d`` with the schema's keys first (in schema order), additions after."""
    return {k: d[k] for k in first} | d


def session_document(rec: SessionRecord) -> dict[str, Any]:
    """The ``pressure-logger/session-v1`` document of a loaded session (no samples)."""
    meta = rec.meta
    device = dataclasses.asdict(meta.device)
    calibration = dataclasses.asdict(meta.calibration)
    doc = {
        "schema": SCHEMA,
        "session": {
            "id": rec.id,
            "started_at": meta.started_at,
            "ended_at": rec.ended_at,
            "status": rec.status.value,
            "client": meta.client,
            "therapist": meta.therapist,
            "notes": meta.notes,
            "device": _ordered(device, ("uid", "firmware", "protocol", "rate_hz", "channels")),
            "calibration": _ordered(
                calibration, ("counts_per_n", "offset_counts", "source", "created_at")
            ),
            "config": meta.config,
        },
        "points": [dataclasses.asdict(p) for p in meta.points],
        "marks": [dataclasses.asdict(m) for m in rec.marks],
        "holds": [dataclasses.asdict(h) for h in rec.holds],
        "alerts": [dataclasses.asdict(a) for a in rec.alerts],
        "gaps": [dataclasses.asdict(g) for g in rec.gaps],
        "stats": dataclasses.asdict(rec.stats),
        "reconnects": [{"at": at, "t_s": t_s} for at, t_s in rec.reconnects],
        "zeros": zero_rows(rec),
        "signals": [dataclasses.asdict(g) for g in rec.signals],
        "ratings": [dataclasses.asdict(r) for r in rec.ratings],
        "protocols": [dataclasses.asdict(p) for p in rec.protocols],
    }
    return _clean(doc)


def zero_rows(rec: SessionRecord) -> list[dict[str, Any]]:
    """The session's zero events as exported: ``t_s``, ``removed_n`` (the force the zero
    took away, with the calibration in force just before it) and ``source``."""
    return [
        {"t_s": z.t_s, "removed_n": removed_n, "source": z.source.value}
        for z, removed_n in rec.zeros_removed_n()
    ]


@contextlib.contextmanager
def _atomic_output(path: str | os.PathLike[str]) -> Iterator[IO[str]]:
    """A UTF-8 text file whose content appears at ``path`` only if the block succeeds."""
    _check_out(path)
    with atomic_write(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        yield fh


def _check_out(path: str | os.PathLike[str]) -> None:
    target = Path(path)
    if not target.parent.is_dir():
        raise BadInput(f"--out {target}: directory {target.parent} does not exist")
    if target.is_dir():
        raise BadInput(f"--out {target}: is a directory")


class ExportTable(enum.StrEnum):
    """What a CSV export holds: the samples, or one of the clinical-protocol tables."""

    SAMPLES = "samples"
    PPT = "ppt"  # one row per PPT trial
    DRILL = "drill"  # one row per scored drill trial
    GUIDED = "guided"  # one row per guided profile run


def export_json(
    store: SessionReader,
    sid: str,
    path: str | os.PathLike[str],
    baseline: str | None = None,
) -> Path:
    """Write the session's ``pressure-logger/session-v1`` JSON document to ``path``; with
    ``baseline`` (another session of the client), ``ppt.change_from_baseline`` too."""
    rec = store.load_session(sid)
    doc = session_document(rec)
    results = load_clinical(store, sid, rec)
    change = None
    if baseline is not None:
        change = change_between(load_clinical(store, baseline), results)
    doc |= _clean(results_document(results, baseline=change))
    if isinstance(store, DeidentifiedStore):
        doc["deidentified"] = {
            "removed": ["client", "therapist", "notes"],
            "day": store.day(rec.meta.started_at),
            "dates": "shifted: day 0 is 1985-01-01",
        }
    with _atomic_output(path) as fh:
        json.dump(doc, fh, indent=2, allow_nan=False)
        fh.write("\n")
    log.info("exported %s as JSON to %s", sid, path)
    return Path(path)


def csv_header(channels: int, ratings: bool = False) -> list[str]:
    """The CSV columns; ``rating`` last only for a session with pain ratings."""
    if channels == 1:
        cols = ["t_s", "force_n", "raw"]
    else:
        cols = ["t_s"]
        for c in range(channels):
            cols += [f"force_n_{c}", f"raw_{c}"]
    return cols + ["rating"] if ratings else cols


def _write_rows(
    fh: IO[str],
    table: np.ndarray,
    fmt: str,
    rows_per_write: int = 4096,
    last: list[str] | None = None,
) -> None:
    """Format a float table with one ``%`` per few thousand rows (3× np.savetxt's speed);
    ``last``: a text cell to end each row with."""
    row_fmt = fmt + (",%s\n" if last is not None else "\n")
    for i in range(0, table.shape[0], rows_per_write):
        part = table[i : i + rows_per_write]
        if last is None:
            values = tuple(part.ravel().tolist())
        else:
            cells = last[i : i + rows_per_write]
            values = tuple(v for row, cell in zip(part.tolist(), cells, strict=True)
                           for v in (*row, cell))  # fmt: skip
        fh.write((row_fmt * part.shape[0]) % values)


def rating_cells(ratings: list[Rating], t_s: np.ndarray) -> list[str]:
    """The pain rating in force at each of ``t_s`` (the latest at or before it), as CSV
    text: empty before the first rating."""
    texts = [""] + [f"{r.value:g}" for r in ratings]
    at = np.searchsorted([r.t_s for r in ratings], t_s, side="right")
    return [texts[i] for i in at.tolist()]


def export_csv(store: SessionReader, sid: str, path: str | os.PathLike[str]) -> Path:
    """One row per sample: ``t_s,force_n,raw`` (multi-channel ``force_n_0,raw_0,…``), and
    ``rating`` (the pain rating in force) when the session has ratings."""
    rec = store.load_session(sid)
    forces = rec.force_timeline()
    channels = max(1, int(rec.meta.device.channels))
    fmt = ",".join([T_FMT] + [FORCE_FMT, "%d"] * channels)
    rows = 0
    with _atomic_output(path) as fh:
        fh.write(",".join(csv_header(channels, bool(rec.ratings))) + "\n")
        for block in store.iter_chunks(sid):
            if block.raw.shape[1] != channels:
                raise BadInput(
                    f"session {sid}: chunk at sample {block.first_index} has "
                    f"{block.raw.shape[1]} channels, the device declared {channels}"
                )
            force = forces.counts_to_n(block.t_s, block.raw)
            table = np.empty((len(block), 1 + 2 * channels), dtype=np.float64)
            table[:, 0] = block.t_s
            table[:, 1::2] = force
            table[:, 2::2] = block.raw
            last = rating_cells(rec.ratings, block.t_s) if rec.ratings else None
            _write_rows(fh, table, fmt, last=last)
            rows += len(block)
    log.info("exported %s as CSV (%d rows) to %s", sid, rows, path)
    return Path(path)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def export_table_csv(
    store: SessionReader, sid: str, path: str | os.PathLike[str], table: ExportTable
) -> Path:
    """One row per PPT trial, scored drill trial or guided profile run of the session, the
    columns named as in the JSON export (an empty cell: no value)."""
    row_type, field = _TABLES[table]
    rows: Sequence[Any] = getattr(load_clinical(store, sid), field)
    columns = [f.name for f in dataclasses.fields(row_type)]
    with _atomic_output(path) as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(columns)
        out.writerows([_cell(getattr(row, c)) for c in columns] for row in rows)
    log.info("exported %s's %s table (%d rows) to %s", sid, table, len(rows), path)
    return Path(path)


def export_edf(store: SessionReader, sid: str, path: str | os.PathLike[str]) -> Path:
    """EDF+ export, written by ``logger.export.edf`` (pyedflib, imported only when asked for)."""
    from .edf import export_edf as write

    _check_out(path)
    return write(store, sid, path).path


# a clinical table: its row type and the ClinicalResults field that holds its rows
_TABLES: dict[ExportTable, tuple[type, str]] = {
    ExportTable.PPT: (PptTrial, "ppt_trials"),
    ExportTable.DRILL: (TrialScore, "drill_scores"),
    ExportTable.GUIDED: (ProfileScore, "profile_scores"),
}

_EXPORTERS = {
    ExportFormat.CSV: export_csv,
    ExportFormat.JSON: export_json,
    ExportFormat.EDF: export_edf,
}


def _check_baseline(store: SessionReader, sid: str, baseline: str) -> None:
    """``--baseline``: another session (it must exist) of the same client."""
    if baseline == sid:
        raise BadInput(f"--baseline {baseline}: the session itself")
    if store.load_session(baseline).meta.client != store.load_session(sid).meta.client:
        raise BadInput(f"--baseline {baseline}: not a session of the same client")


def export_session(
    store: LibraryReader,
    sid: str,
    path: str | os.PathLike[str],
    fmt: ExportFormat | str,
    *,
    deidentify: bool = False,
    table: ExportTable | str = ExportTable.SAMPLES,
    baseline: str | None = None,
) -> Path:
    """Export ``sid`` to ``path`` in ``fmt`` (csv, json or edf) and log it in the audit
    trail; ``deidentify`` drops names and shifts dates (see :mod:`logger.deidentify`).
    ``table`` (CSV only) picks a clinical-protocol table instead of the samples;
    ``baseline`` (JSON only) adds the PPT change from that session."""
    try:
        kind = ExportFormat(str(fmt).lower())
    except ValueError:
        choices = ", ".join(f.value for f in ExportFormat)
        raise BadInput(f"--format {fmt!r}: expected one of {choices}") from None
    try:
        part = ExportTable(str(table).lower())
    except ValueError:
        choices = ", ".join(t.value for t in ExportTable)
        raise BadInput(f"--table {table!r}: expected one of {choices}") from None
    if part is not ExportTable.SAMPLES and kind is not ExportFormat.CSV:
        raise BadInput(f"--table {part}: a table is exported as CSV (--format csv)")
    if baseline is not None and kind is not ExportFormat.JSON:
        raise BadInput(f"--baseline {baseline}: the PPT change is in the JSON export only")
    if baseline is not None:  # refused before anything is written, on the names
        _check_baseline(store, sid, baseline)
    if deidentify:
        store = deidentified(store, sid)
    if baseline is not None:
        out = export_json(store, sid, path, baseline)
    elif part is not ExportTable.SAMPLES:
        out = export_table_csv(store, sid, path, part)
    else:
        out = _EXPORTERS[kind](store, sid, path)
    detail: dict[str, Any] = {"format": kind.value, "out": str(out.absolute())}
    if part is not ExportTable.SAMPLES:
        detail["table"] = part.value
    store.log_audit(AuditAction.EXPORT, [sid], **detail)
    return out
