"""EDF+ export of a stored session (pyedflib), for EDFbrowser, MNE-Python and the like.

Decisions, so that a researcher can trust the file:
- **EDF+C with gaps filled and annotated.** EDFlib (under pyedflib) writes continuous files
  only, and most readers handle EDF+D poorly. Samples lost in a gap are *not* interpolated:
  they hold the digital minimum (-32768), which maps to the channel's physical minimum and
  lies below every real sample, and every gap is an annotation ``Gap <cause> …`` with its
  duration. ``NO_DATA_DIGITAL`` is that marker.
- **Physical range from the data.** Force channels are in newtons; physical min/max are the
  recorded range widened to whole newtons (so the 8-character header fields hold them
  exactly and the reader's scale equals the writer's); digital range is int16. The
  resolution, (max − min)/65535 N, is typically about 1 mN.
- **Sample position from device time.** Sample *k* of the file is at ``k / rate_hz`` after
  the session's first sample, the device's own clock, as stored. The header's start time
  is the session's ``started_at`` (UTC) truncated to the second (EDFlib's sub-second
  start field does not survive a round trip); onsets are relative to the first sample.
- **Annotations:** marks (``Mark <point>``), holds (``Hold <n> <point>`` with start and
  duration), alerts (``Alert <kind> <value> N``), gaps, zero events (``Zero <source>
  removed <force> N``: from there on the forces have that zero), the client's signals
  (``client signal``), pain ratings (``pain 6.5``), protocol starts (``PPT round pre``,
  ``drill basic``, ``profile trapezoid``) and the end padding
  (``No data (end padding)``: EDF data records are whole, so the last one is filled up with
  the no-data marker after the last sample). EDFlib stores onsets in 100 µs.
- **Nothing partial:** the file is written beside the target as a hidden temporary and
  renamed into place; on any error the temporary is removed.
The session is read in chunks of records (``chunk_s``), so an 8-hour session never sits in
memory whole.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyedflib

from calibration.models import ZeroSource

from ..deidentify import SessionReader
from ..errors import BadInput
from ..files import atomic_write
from ..records import (
    Alert,
    Gap,
    Hold,
    Mark,
    Point,
    ProtocolEvent,
    ProtocolKind,
    Rating,
    SessionMeta,
    Signal,
)

log = logging.getLogger(__name__)

NO_DATA_DIGITAL = -32768
"""Digital value of samples lost in a gap (maps to the physical minimum)."""
DIGITAL_MAX = 32767
RECORDING_SUBFIELD_CHARS = 40
"""What admin code, technician and equipment may use together (with no additional text):
EDFlib (inside pyedflib) silently cuts the recording field's free text beyond this many
characters, the equipment first (measured; ``test_header_fields_survive_whole`` writes
files at the limit and reads every field back whole)."""
UID_CHARS = 16
"""A device uid is at most 16 characters on the wire: the equipment subfield keeps it whole."""
MAX_ANNOTATION_CHARS = 40
"""EDFlib truncates longer annotation texts; ours are built to fit."""


@dataclass(frozen=True, slots=True)
class EdfSummary:
    path: Path
    samples: int  # per channel, including gap fill
    filled_samples: int  # per channel, samples with no data (gaps)
    channels: int
    rate_hz: float
    record_duration_s: float
    physical_min_n: float
    physical_max_n: float
    annotations: int


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _header_text(text: str | None, limit: int) -> str:
    """EDF header subfields: printable ASCII without spaces (EDF+ §2.1.3.2)."""
    if not text or limit <= 0:
        return ""
    ascii_text = text.encode("ascii", "replace").decode("ascii").replace("?", "_")
    ascii_text = "_".join(ascii_text.split())
    return ascii_text if len(ascii_text) <= limit else ascii_text[: limit - 1] + "~"


def _recording_subfields(session_id: str, therapist: str | None, uid: str) -> tuple[str, str, str]:
    """Admin code (session id), technician (therapist) and equipment (device uid) within
    :data:`RECORDING_SUBFIELD_CHARS`: the uid and the session id are kept whole (ids cut
    short would name another device or session), the therapist's name gets what is left."""
    equipment = _header_text(uid, UID_CHARS)
    admin = _header_text(session_id, RECORDING_SUBFIELD_CHARS - len(equipment) - 1)
    room = RECORDING_SUBFIELD_CHARS - len(equipment) - len(admin)
    return admin, _header_text(therapist, room), equipment


def _transducer_text(meta: SessionMeta) -> str:
    """The signal's transducer field (80 characters): the device and its calibration, whole.
    A number cut short would state another calibration, so the source goes first if
    anything must give."""
    cal = meta.calibration
    head = f"force sensor {meta.device.uid} {cal.counts_per_n:g} counts/N"
    text = f"{head} ({cal.source})"
    return text if len(text) <= 80 else _short(head, 80)


def annotations_for(
    points: Sequence[Point],
    marks: Sequence[Mark],
    holds: Sequence[Hold],
    alerts: Sequence[Alert],
    gaps: Sequence[Gap],
    zeros: Sequence[tuple[float, float, ZeroSource]] = (),
    client: Sequence[Signal | Rating | ProtocolEvent] = (),
) -> list[tuple[float, float, str]]:
    """``(onset_s, duration_s or -1, text)`` for every event, in time order; ``zeros`` are
    ``(t_s, removed_n, source)``; ``client``: signals, ratings and protocol events."""
    names = {p.index: p.name for p in points}

    def point_name(index: int | None, fallback: str | None = None) -> str:
        if index is None:
            return fallback or "-"
        return names.get(index) or fallback or f"point {index + 1}"

    out: list[tuple[float, float, str]] = []
    for m in marks:
        text = f"Mark {point_name(m.point_index)}"
        out.append((m.t_s, -1.0, _short(text, MAX_ANNOTATION_CHARS)))
    for h in holds:
        cut = " cut short" if h.cut_short else ""
        text = f"Hold {h.index + 1}{cut} {point_name(h.point_index, h.point)}"
        out.append((h.start_s, max(h.end_s - h.start_s, 0.0), _short(text, MAX_ANNOTATION_CHARS)))
    for a in alerts:
        text = (
            f"Alert {a.kind} {a.value:.1f} N"
            if a.kind != "hold_duration"
            else (f"Alert hold_duration {a.value:.1f} s")
        )
        out.append((a.t_s, -1.0, _short(text, MAX_ANNOTATION_CHARS)))
    for g in gaps:
        text = f"Gap {g.cause} {g.lost_samples} lost"
        out.append((g.start_s, max(g.end_s - g.start_s, 0.0), _short(text, MAX_ANNOTATION_CHARS)))
    for t_s, removed_n, source in zeros:
        text = f"Zero {ZeroSource(source).value} removed {removed_n:+.2f} N"
        out.append((t_s, -1.0, _short(text, MAX_ANNOTATION_CHARS)))
    for item in client:
        out.append((item.t_s, -1.0, _short(client_text(item), MAX_ANNOTATION_CHARS)))
    out.sort(key=lambda a: a[0])
    return out


def client_text(item: Signal | Rating | ProtocolEvent) -> str:
    """A client signal, pain rating or protocol start in words (its annotation)."""
    match item:
        case Signal():
            return "client signal"
        case Rating():
            return f"pain {item.value:g}"
    if item.kind == ProtocolKind.ROUND:
        label = str(item.data.get("label") or "")
        return f"PPT round {label}" if label else "PPT end"
    if not item.data:
        return f"{item.kind.value} stopped"
    name = item.data.get("name") if item.kind == ProtocolKind.DRILL else item.data.get("kind")
    return f"{item.kind.value} {name}" if name else item.kind.value


def _physical_range(lo_n: float, hi_n: float) -> tuple[float, float]:
    """Whole newtons around the data, at least 1 N below the minimum (room for the gap
    marker) and never an empty range."""
    if not (math.isfinite(lo_n) and math.isfinite(hi_n)):
        lo_n, hi_n = 0.0, 1.0
    pmin = math.floor(lo_n) - 1.0
    pmax = math.ceil(hi_n) + 1.0
    return pmin, max(pmax, pmin + 2.0)


def _to_digital(force_n: np.ndarray, pmin: float, pmax: float) -> np.ndarray:
    span = DIGITAL_MAX - NO_DATA_DIGITAL
    d = np.rint((force_n - pmin) / (pmax - pmin) * span) + NO_DATA_DIGITAL
    return np.clip(d, NO_DATA_DIGITAL + 1, DIGITAL_MAX).astype(np.int16)


def _start_datetime(started_at: str) -> datetime:
    try:
        dt = datetime.fromisoformat(started_at.replace("Z", "+00:00"))
    except (ValueError, AttributeError) as exc:
        raise BadInput(f"session started_at {started_at!r} is not ISO 8601") from exc
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    # EDFlib drops the sub-second start; say so rather than pretend
    return dt.replace(microsecond=0)


def write_edf(
    path: str | os.PathLike[str],
    meta: SessionMeta,
    load_forces: Callable[[float, float], tuple[np.ndarray, np.ndarray]],
    duration_s: float,
    *,
    marks: Sequence[Mark] = (),
    holds: Sequence[Hold] = (),
    alerts: Sequence[Alert] = (),
    gaps: Sequence[Gap] = (),
    zeros: Sequence[tuple[float, float, ZeroSource]] = (),
    client: Sequence[Signal | Rating | ProtocolEvent] = (),
    rate_hz: float | None = None,
    chunk_s: float = 60.0,
    session_id: str = "",
) -> EdfSummary:
    """Write an EDF+C file from ``load_forces(t0_s, t1_s) -> (t_s, force_n (n, channels))``.

    ``duration_s`` is the device time of the last sample. See the module doc for the
    choices; raises ``BadInput`` for a session that cannot be expressed in EDF+.
    """
    path = Path(path)
    rate_hz = float(rate_hz or meta.device.rate_hz)
    if not rate_hz > 0:
        raise BadInput(f"session {session_id}: sample rate {rate_hz!r} Hz cannot go into EDF")
    channels = max(int(meta.device.channels or 1), 1)
    n_samples = int(round(duration_s * rate_hz)) + 1
    start = _start_datetime(meta.started_at)

    # pass 1: the data range (chunked)
    lo, hi = math.inf, -math.inf
    for t0 in np.arange(0.0, n_samples / rate_hz, chunk_s):
        _, f = load_forces(float(t0), float(t0 + chunk_s))
        f = np.asarray(f, dtype=float)
        if f.size:
            finite = f[np.isfinite(f)]
            if finite.size:
                lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
    pmin, pmax = _physical_range(lo, hi)

    transducer = _transducer_text(meta)
    with atomic_write(path) as tmp:
        writer = pyedflib.EdfWriter(str(tmp), channels, file_type=pyedflib.FILETYPE_EDFPLUS)
        try:
            labels = ["Force"] if channels == 1 else [f"Force {i}" for i in range(channels)]
            writer.setSignalHeaders(
                [
                    {
                        "label": label,
                        "dimension": "N",
                        "sample_frequency": rate_hz,
                        "physical_min": pmin,
                        "physical_max": pmax,
                        "digital_min": NO_DATA_DIGITAL,
                        "digital_max": DIGITAL_MAX,
                        "transducer": transducer,
                        "prefilter": "",
                    }
                    for label in labels
                ]
            )
            writer.setPatientCode(_header_text(meta.client, 30))
            admin, technician, equipment = _recording_subfields(
                session_id, meta.therapist, meta.device.uid
            )
            writer.setTechnician(technician)
            writer.setEquipment(equipment)
            writer.setAdmincode(admin)
            writer.setRecordingAdditional("")  # the calibration is in each signal's transducer
            writer.setStartdatetime(start)
            events = annotations_for(meta.points, marks, holds, alerts, gaps, zeros, client)
            spr = writer.get_smp_per_record(0)
            record_s = spr / rate_hz
            n_records = max(math.ceil(n_samples / spr), 1)
            padding = n_records * spr - n_samples
            if padding:
                events.append((n_samples / rate_hz, padding / rate_hz, "No data (end padding)"))
            # EDFlib puts annotations into the records' annotation signals: make room
            writer.set_number_of_annotation_signals(
                int(min(64, max(1, math.ceil((len(events) + 1) / n_records) + 1)))
            )

            # pass 2: samples, whole records at a time
            records_per_chunk = max(int(chunk_s // record_s), 1)
            filled = 0
            for r0 in range(0, n_records, records_per_chunk):
                r1 = min(r0 + records_per_chunk, n_records)
                i0, i1 = r0 * spr, r1 * spr
                block = np.full((i1 - i0, channels), NO_DATA_DIGITAL, dtype=np.int16)
                half = 0.5 / rate_hz
                t, f = load_forces(i0 / rate_hz - half, i1 / rate_hz - half)
                t = np.asarray(t, dtype=float)
                f = np.asarray(f, dtype=float).reshape(t.shape[0], -1)[:, :channels]
                idx = np.rint(t * rate_hz).astype(np.int64) - i0
                ok = (idx >= 0) & (idx < i1 - i0) & np.isfinite(f).all(axis=1)
                block[idx[ok]] = _to_digital(f[ok], pmin, pmax)
                filled += int(
                    np.count_nonzero(block[: max(0, min(i1, n_samples) - i0), 0] == NO_DATA_DIGITAL)
                )
                # one call per data record (EDFlib's block write is one record: every
                # channel's spr samples in turn)
                records = np.ascontiguousarray(
                    block.reshape(r1 - r0, spr, channels).transpose(0, 2, 1)
                )
                for record in records.reshape(r1 - r0, spr * channels):
                    writer.blockWriteDigitalShortSamples(record)
            for onset_s, dur_s, text in events:
                writer.writeAnnotation(onset_s, dur_s, text)
        finally:
            writer.close()
    log.info("EDF+ %s: %d samples, %d filled, %d annotations", path, n_samples, filled, len(events))
    return EdfSummary(path, n_samples, filled, channels, rate_hz, record_s, pmin, pmax, len(events))


def export_edf(store: SessionReader, sid: str, path: str | os.PathLike[str]) -> EdfSummary:
    """Export stored session ``sid`` to ``path`` as EDF+C (see the module doc)."""
    rec = store.load_session(sid)
    if rec.last_t_s is None:
        raise BadInput(f"session {sid}: no samples to export")
    return write_edf(
        path,
        rec.meta,
        lambda t0, t1: store.load_forces(sid, t0, t1),
        rec.last_t_s,
        marks=rec.marks,
        holds=rec.holds,
        alerts=rec.alerts,
        gaps=rec.gaps,
        zeros=[(z.t_s, removed_n, z.source) for z, removed_n in rec.zeros_removed_n()],
        client=[*rec.signals, *rec.ratings, *rec.protocols],
        # the nominal rate: the file's sample clock is the device's, not a measured average
        rate_hz=rec.meta.device.rate_hz or rec.stats.rate_hz,
        session_id=rec.id,
    )
