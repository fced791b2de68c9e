"""Re-deriving a stored session's holds and alerts with another calibration.

Raw counts are what a session stores, so its events can be recomputed: the stored samples,
marks and gaps are replayed through :class:`logger.pipeline.Pipeline` with the session's
own config and point plan, and forces from the given calibration plus the session's zero
events (each Zero keeps its instant and its zero reading; only the gain and curvature change).

The same replay, with the session's own calibration, decides again the events of a recording
whose process died (:func:`redetect_events`, given to the library as its ``redetect``): the
hold under way at the end is kept, flagged ``cut_short``.
"""

from __future__ import annotations

import logging

import numpy as np

from calibration.models import CalibrationInfo

from .config import Config
from .pipeline import Pipeline, PipelineOutput
from .points import PointPlan
from .records import Alert, Gap, Hold, Mark, SampleBlock
from .store import SessionLibrary

log = logging.getLogger(__name__)


def recompute_events(
    store: SessionLibrary, sid: str, cal: CalibrationInfo | None = None
) -> tuple[list[Hold], list[Alert]]:
    """Holds and alerts of session ``sid`` as the pipeline decides them with ``cal``
    (default: the session's stored calibration). Nothing is written: store the result
    with :meth:`SessionLibrary.apply_recalibration`. Marks are kept as recorded."""
    rec = store.load_session(sid)
    config = Config.from_dict(rec.meta.config, source=f"session {sid} config", ranged=False)
    pipeline = Pipeline(config, PointPlan(list(rec.meta.points), config.limits))
    forces = rec.force_timeline(cal)  # the session's zero events stay where they were
    # (time, order, event): gaps before marks before samples at the same instant
    events: list[tuple[float, int, Mark | Gap]] = sorted(
        [(g.start_s, 0, g) for g in rec.gaps] + [(m.t_s, 1, m) for m in rec.marks],
        key=lambda e: (e[0], e[1]),
    )
    out = PipelineOutput()

    def apply(event: Mark | Gap) -> None:
        if isinstance(event, Gap):
            out.extend(pipeline.gap(event.start_s, event.end_s))
        elif event.point_index is not None and event.point_index < len(pipeline.points):
            pipeline.jump(event.point_index, event.t_s, event.source)
        else:
            pipeline.mark(event.t_s, event.source)

    def process(block: SampleBlock, force_n: np.ndarray, part: slice) -> None:
        first = block.first_index + (part.start or 0)
        out.extend(
            pipeline.process(SampleBlock(first, block.t_s[part], block.raw[part], force_n[part]))
        )

    k = 0
    for block in store.iter_chunks(sid):
        force_n = forces.counts_to_n(block.t_s, block.raw)
        start = 0
        while k < len(events) and events[k][0] <= block.t_s[-1]:
            cut = int(np.searchsorted(block.t_s, events[k][0], side="left"))
            if cut > start:
                process(block, force_n, slice(start, cut))
                start = cut
            apply(events[k][2])
            k += 1
        if start < len(block):
            process(block, force_n, slice(start, None))
    for _, _, event in events[k:]:
        apply(event)
    out.extend(pipeline.finish())
    # an unlinked alert is reported again, as the same object, in ``alerts`` once its
    # contact ends: keep each alert once
    alerts = {id(a): a for a in (*out.alerts, *out.unlinked_alerts)}
    return out.holds, sorted(alerts.values(), key=lambda a: a.t_s)


def recalibrate(
    store: SessionLibrary, sid: str, cal: CalibrationInfo
) -> tuple[list[Hold], list[Alert]]:
    """Give session ``sid`` calibration ``cal`` and the holds and alerts it implies, in one
    transaction; returns those holds and alerts."""
    holds, alerts = recompute_events(store, sid, cal)
    store.apply_recalibration(sid, cal, holds, alerts)
    return holds, alerts


def redetect_events(store: SessionLibrary, sid: str) -> None:
    """Decide again the holds and alerts of ``sid``, a recording whose process died, on
    its stored samples with its own calibration (a library's ``redetect``)."""
    holds, _ = recalibrate(store, sid, store.calibration(sid))
    log.info("session %s: %d holds after re-running hold detection", sid, len(holds))
