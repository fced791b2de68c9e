"""What goes on the report's pages, in order, from a :class:`~gui.report.data.ReportParts`:
the session metadata, the timeline, alerts and gaps, the holds table, per-point statistics
with left/right differences, and with a reference session the comparison scores, one
overlay per point and the trainee's progress. A session with clinical protocols adds, after
the per-point statistics, its pain ratings and guided scores, the PPT trials with their
per-point means and change, and the drill's scores with the trainee's learning curve; a
session without them gives the same pages as before there were any.

Text is real PDF text (searchable, extractable); plots are the review window's own
pyqtgraph widgets in a light theme (:func:`render_figures`), drawn once and placed by
:mod:`gui.report.layout` in both of its passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np
from PySide6.QtGui import QImage

from ..format import calibration_source, hms, local_time, num, point_label, unsaved_text
from ..review.comparison import (
    COMPARE_COLUMNS,
    PROGRESS_COLUMNS,
    comparison_cells,
    comparison_summary,
    progress_cells,
)
from ..review.plots import LearningCurvePlot, OverlayPlot, ProgressPlot
from ..review.tables import (
    HOLD_COLUMNS,
    LR_COLUMNS,
    STATS_COLUMNS,
    hold_cells,
    lr_cells,
    stats_cells,
)
from ..review.timeline import DETAIL_MAX_SAMPLES, TimelinePlot
from .clinical import (
    DRILL_COLUMNS,
    LEARNING_COLUMNS,
    PPT_CHANGE_COLUMNS,
    PPT_POINT_COLUMNS,
    PPT_TRIAL_COLUMNS,
    drill_cells,
    drill_summary_text,
    guided_text,
    learning_cells,
    learning_series,
    learning_text,
    ppt_change_cells,
    ppt_point_cells,
    ppt_settings_text,
    ppt_trial_cells,
    ratings_text,
)
from .data import ReportParts, TimelineTrace, TraceSpec
from .layout import KEEP_TOGETHER_ROWS, Doc, Figure, mm, render_widget, write_pdf

TIMELINE_PX = (1100, 400)
OVERLAY_PX = (560, 380)
PROGRESS_PX = (1000, 380)
TIMELINE_TRACE = TraceSpec(
    # as TimelinePlot.reload_visible asks for the whole session at this width
    max_points=2 * max(TIMELINE_PX[0], 400),
    detail_max_samples=DETAIL_MAX_SAMPLES,
)
NOTE_PT = 7.5
NOTE_COLOUR = "#555555"
SUBTITLE_COLOUR = "#444444"


class TraceSource:
    """The store as the report's timeline sees it, answered from the prepared trace.

    The plot shows the whole session, so it asks for the whole session, at the resolution
    the trace was loaded at (:data:`TIMELINE_TRACE`); any other request means the plot and
    :func:`~gui.report.data.timeline_trace` no longer agree, and is an error rather than a
    different picture.
    """

    def __init__(self, trace: TimelineTrace) -> None:
        self.trace = trace

    def _whole(self, t0_s: float | None, t1_s: float | None) -> bool:
        return (t0_s is None or t0_s <= 0.0) and (t1_s is None or t1_s >= self.trace.duration_s)

    def _refuse(self, asked: str) -> NoReturn:
        tr = self.trace
        held = "samples" if tr.detail else f"an envelope of at most {tr.max_points} points"
        raise RuntimeError(
            f"report timeline: the plot asked for {asked}; the prepared trace holds {held} "
            f"over 0–{tr.duration_s} s"
        )

    def load_forces(
        self, sid: str, t0_s: float | None = None, t1_s: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        if not (self.trace.detail and self._whole(t0_s, t1_s)):
            self._refuse(f"samples over {t0_s}–{t1_s} s")
        return self.trace.t_s, self.trace.lo_n

    def load_overview(
        self,
        sid: str,
        t0_s: float | None = None,
        t1_s: float | None = None,
        max_points: int = 2000,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tr = self.trace
        if tr.detail or max_points != tr.max_points or not self._whole(t0_s, t1_s):
            self._refuse(f"an envelope of at most {max_points} points over {t0_s}–{t1_s} s")
        return tr.t_s, tr.lo_n, tr.hi_n


@dataclass(frozen=True, slots=True)
class Figures:
    """The report's plots as images; ``overlays`` and ``progress`` only with a reference
    (``progress`` only with at least two trainee sessions)."""

    timeline: QImage
    overlays: tuple[Figure, ...] = ()
    progress: QImage | None = None
    learning: QImage | None = None


def render_figures(parts: ReportParts) -> Figures:
    """Draw the plots of ``parts`` (needs a ``QApplication``)."""
    timeline = TimelinePlot(light=True)
    timeline.resize(*TIMELINE_PX)
    timeline.set_session(TraceSource(parts.timeline), parts.record)
    timeline.set_clinical(parts.clinical)
    timeline_image = render_widget(timeline, TIMELINE_PX)
    timeline.deleteLater()
    learning_image = None
    if parts.learning:
        lc = LearningCurvePlot(light=True)
        lc.show_curve([p.started_at for p in parts.learning], *learning_series(parts.learning))
        learning_image = render_widget(lc, PROGRESS_PX)
        lc.deleteLater()
    comparison = parts.comparison
    if comparison is None:
        return Figures(timeline_image, learning=learning_image)
    overlays = []
    plot = OverlayPlot(light=True)
    for o in comparison.overlays:
        plot.show_curves(
            o.curves, reference_n=o.reference_curve_n, dt_s=o.dt_s, target_n=o.target_n
        )
        image = render_widget(plot, OVERLAY_PX)
        overlays.append(Figure(o.point, image, tuple(plot.legend_entries)))
    plot.deleteLater()
    progress_image = None
    if comparison.progress:
        pp = ProgressPlot(light=True)
        pp.show_progress(comparison.progress)
        progress_image = render_widget(pp, PROGRESS_PX)
        pp.deleteLater()
    return Figures(timeline_image, tuple(overlays), progress_image, learning_image)


def report_title(parts: ReportParts) -> str:
    """The PDF's title, also the footer of every page."""
    title = f"pressure-logger report · session {parts.record.id}"
    if parts.comparison is not None:
        title += f" · reference {parts.comparison.reference.id}"
    return title


def _metadata(doc: Doc, parts: ReportParts) -> None:
    rec = parts.record
    m = rec.meta
    cal = m.calibration
    day = parts.day
    doc.heading("Pressure session report", 16)
    doc.paragraph(f"Session {rec.id}", 10, SUBTITLE_COLOUR)
    if day is not None:
        doc.paragraph(
            "De-identified hand-over: client, therapist and notes removed; session ids "
            "replaced; dates shifted so that this session starts on day 0 (1 January 1985).",
            9,
            SUBTITLE_COLOUR,
        )
    removed = "removed (de-identified)"
    doc.key_values(
        [
            ("Client (pseudonym)", removed if day is not None else m.client or "—"),
            ("Therapist", removed if day is not None else m.therapist or "—"),
            (
                "Started",
                f"day {day} (shifted date {local_time(m.started_at)} UTC)"
                if day is not None
                else f"{local_time(m.started_at)} UTC",
            ),
            ("Ended", f"{local_time(rec.ended_at)} UTC" if rec.ended_at else "—"),
            ("Status", str(rec.status)),
            ("Duration", hms(rec.stats.duration_s)),
            (
                "Device",
                f"{m.device.uid}, firmware {m.device.firmware}, protocol {m.device.protocol}, "
                f"{m.device.rate_hz:g} Hz, {m.device.channels} channel(s)",
            ),
            (
                "Calibration",
                f"{cal.model}, {cal.counts_per_n:g} counts/N, offset {cal.offset_counts:g} "
                f"counts; {calibration_source(cal.source, cal.created_at)}",
            ),
            (
                "Samples",
                f"{rec.stats.samples} recorded, {rec.stats.lost_samples} lost, "
                f"{rec.stats.crc_errors} CRC errors, {rec.stats.reconnects} reconnects"
                + unsaved_text(rec.stats.unsaved_samples),
            ),
            ("Points", "; ".join(p.name for p in rec.points) or "—"),
            ("Notes", removed if day is not None else m.notes or "—"),
        ]
    )


def _session(doc: Doc, parts: ReportParts, figures: Figures) -> None:
    rec = parts.record
    doc.heading("Timeline")
    doc.image(figures.timeline, 56)
    doc.paragraph(
        "Holds shaded; green bands: the point's target window over its holds; dashed "
        "horizontal lines: warn (orange) and max (red) levels; dashed vertical lines: marks "
        "(point labels); triangles: alerts; grey bands: gaps (samples lost, not interpolated).",
        NOTE_PT,
        NOTE_COLOUR,
    )
    clinical = parts.clinical
    if clinical.ratings or clinical.signals or clinical.guided:
        doc.paragraph(
            "Purple steps: the client's pain rating (0–10, right axis); purple stars: the "
            "client's signals; dashed green line: the guided target profile.",
            NOTE_PT,
            NOTE_COLOUR,
        )
    doc.heading("Alerts")
    if rec.alerts:
        names = {p.index: p.name for p in rec.points}
        doc.table(
            ("time", "kind", "point", "hold", "value"),
            [
                [
                    hms(a.t_s),
                    str(a.kind),
                    point_label(a.point_index, names),
                    str(a.hold_index + 1) if a.hold_index is not None else "—",
                    num(a.value, "s" if a.kind == "hold_duration" else "N"),
                ]
                for a in rec.alerts
            ],
            first_left=3,
            stretch=2,
        )
    else:
        doc.paragraph("No alerts.")
    if rec.gaps:
        doc.heading("Gaps")
        doc.table(
            ("start", "end", "lost samples", "cause"),
            [[hms(g.start_s), hms(g.end_s), str(g.lost_samples), str(g.cause)] for g in rec.gaps],
            first_left=4,
            stretch=3,
        )
    doc.heading("Holds")
    if rec.holds:
        doc.table(HOLD_COLUMNS, [hold_cells(h) for h in rec.holds], first_left=2, stretch=1)
    else:
        doc.paragraph("No holds.")
    stats = parts.stats
    if len(stats) <= KEEP_TOGETHER_ROWS:  # heading, table and note on one page
        doc.ensure(mm(4.6) * (len(stats) + 1) + mm(22))
    doc.heading("Per-point statistics")
    doc.table(STATS_COLUMNS, [stats_cells(s) for s in stats])
    doc.paragraph(
        "Mean of trials: mean of the holds' plateau means. CV trials: between-trial "
        "variation; CV plateau: steadiness within a hold (mean over trials).",
        NOTE_PT,
        NOTE_COLOUR,
    )
    if parts.pairs:
        doc.heading("Left / right", 11)
        doc.table(LR_COLUMNS, [lr_cells(p) for p in parts.pairs])


def _comparison(doc: Doc, parts: ReportParts, figures: Figures) -> None:
    comparison = parts.comparison
    if comparison is None:
        return
    ref = comparison.reference
    doc.ensure(mm(110))  # the comparison table and the first overlays together
    doc.heading("Comparison with the reference")
    doc.paragraph(
        f"Reference {ref.id}: {ref.meta.therapist or '—'}, client {ref.meta.client or '—'}, "
        f"{local_time(ref.meta.started_at)}. Holds aligned at onset; the reference template "
        "is the mean of its holds at each point; errors are over every trainee trial."
    )
    doc.paragraph(comparison_summary(comparison.scores), 9.5)
    doc.table(COMPARE_COLUMNS, comparison_cells(comparison.scores))
    if comparison.ppt is not None:
        change = comparison.ppt
        doc.heading("PPT change between the two sessions", 11)
        doc.paragraph(
            f"Client {change.client}: {change.pre_id} (pre) → {change.post_id} (post); each "
            "session's mean threshold per point, points matched by name."
        )
        doc.table(PPT_CHANGE_COLUMNS, ppt_change_cells(change.change))
    doc.heading("Overlays", 11)
    doc.figure_pairs(figures.overlays)
    if len(comparison.progress) > 1 and figures.progress is not None:
        doc.heading("Progress against this reference", 11)
        doc.image(figures.progress, 55)
        doc.table(
            PROGRESS_COLUMNS,
            progress_cells(comparison.progress),
            first_left=2,
            stretch=1,
        )


def _clinical(doc: Doc, parts: ReportParts, figures: Figures) -> None:
    """Pain ratings, guided loading, PPT and drill: each only when the session has it."""
    c = parts.clinical
    if c.empty:
        return
    if c.ratings or c.guided is not None:
        doc.heading("Client and guided loading")
        if c.ratings:
            doc.paragraph(ratings_text(c.ratings) + ", drawn on the timeline.")
        if c.signals and c.ppt is None:
            doc.paragraph(f"Client signals: {len(c.signals)}, starred on the timeline.")
        if c.guided is not None:
            doc.paragraph(guided_text(c.guided))
    if c.ppt is not None:
        ppt = c.ppt
        doc.heading("Pressure-pain threshold (PPT)")
        doc.paragraph(ppt_settings_text(ppt.settings), 8.5, SUBTITLE_COLOUR)
        doc.table(PPT_TRIAL_COLUMNS, ppt_trial_cells(ppt.trials), first_left=3, stretch=1)
        doc.heading("PPT per point", 11)
        doc.table(PPT_POINT_COLUMNS, ppt_point_cells(ppt.points), first_left=2)
        if ppt.change:
            doc.heading("PPT change, pre → post", 11)
            doc.table(PPT_CHANGE_COLUMNS, ppt_change_cells(ppt.change))
    if c.drill is not None:
        doc.heading("Drill")
        doc.paragraph(drill_summary_text(c.drill))
        doc.table(DRILL_COLUMNS, drill_cells(c.drill.scores), first_left=2, stretch=2)
        if parts.learning and figures.learning is not None:
            who = parts.record.meta.therapist or "—"
            doc.heading("Learning curve", 11)
            doc.paragraph(learning_text(who, parts.learning))
            doc.image(figures.learning, 55)
            doc.table(LEARNING_COLUMNS, learning_cells(parts.learning), first_left=2, stretch=1)


def build(doc: Doc, parts: ReportParts, figures: Figures) -> None:
    """Lay the whole report out on ``doc``, page after page."""
    _metadata(doc, parts)
    _session(doc, parts, figures)
    _clinical(doc, parts, figures)
    _comparison(doc, parts, figures)


def write(parts: ReportParts, path: Path) -> int:
    """Draw the figures and write the report of ``parts`` to ``path``; returns its pages."""
    figures = render_figures(parts)
    return write_pdf(path, report_title(parts), lambda doc: build(doc, parts, figures))
