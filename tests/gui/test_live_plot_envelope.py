"""The live plot's per-column envelope, folded in frame by frame: what is drawn is exactly
what reducing every sample would give, in the display unit (real widgets, offscreen Qt)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gui.display import DisplayUnits
from gui.envelope import ColumnEnvelope, column_envelope, column_start_s
from gui.path_items import BandItem, HLinesItem, TraceItem, hairline
from gui.trace_buffer import TraceBuffer
from gui.widgets.live_plot import STEP_COLUMNS, LivePlot

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints"),
]


def _signal(seed: int, n: int, rate_hz: float, t0_s: float) -> tuple[np.ndarray, np.ndarray]:
    """A noisy trace with spikes, holds and the odd repeated value (float32 forces in N)."""
    rng = np.random.default_rng(seed)
    t = t0_s + np.arange(n) / rate_hz + rng.uniform(0, 0.2 / rate_hz, n)
    f = 10.0 + 20.0 * (np.sin(t / 3.0) > 0.3) + rng.normal(0.0, 0.5, n)
    f[rng.integers(0, n, 1 + n // 500)] += rng.normal(0.0, 40.0)  # one-sample spikes
    return t, np.round(f, 1).astype(np.float32)  # rounding: ties between extremes


def _cuts(seed: int, n: int, pieces: int) -> list[int]:
    return sorted(set(np.random.default_rng(seed + 1).integers(1, n + 1, pieces).tolist()) | {n})


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 3000),
    column_s=st.floats(0.003, 0.5),
    pieces=st.integers(1, 40),
    window_s=st.floats(0.05, 5.0),
)
def test_folded_columns_equal_reducing_every_sample(seed, n, column_s, pieces, window_s):
    """Fed a growing trace piece by piece, with the view's start moving along, the
    envelope in view is, bit for bit, ``column_envelope`` of the samples in view up to the
    newest sample's column (the first column cut where the view begins)."""
    t, f = _signal(seed, n, 1000.0, 100.0)
    env = ColumnEnvelope()
    for end in _cuts(seed, n, pieces):
        ts, fs = t[:end], f[:end]
        from_s = max(float(t[0]), float(ts[-1]) - window_s)
        env.update(ts, fs, column_s, from_s)
        x, y = env.visible(ts, fs, from_s)
        first = int(np.searchsorted(ts, from_s, side="left"))
        done = int(np.searchsorted(ts, column_start_s(float(ts[-1]), column_s), side="left"))
        x_all, y_all = column_envelope(ts[first:done], fs[first:done], column_s)
        np.testing.assert_array_equal(x, x_all)
        np.testing.assert_array_equal(y, y_all)


def test_a_trace_that_does_not_continue_starts_the_envelope_again():
    env = ColumnEnvelope()
    t = np.arange(0, 2.0, 0.001)
    f = np.sin(t).astype(np.float32)
    env.update(t, f, 0.01, 0.0)
    resets = env.resets
    env.update(t + 10.0, f, 0.01, 10.0)  # another timeline: a reconnection
    assert env.resets == resets + 1
    t = t + 10.0
    x, y = env.visible(t, f, 10.0)
    done = int(np.searchsorted(t, column_start_s(float(t[-1]), 0.01), side="left"))
    x_all, y_all = column_envelope(t[:done], f[:done], 0.01)
    assert np.all(np.diff(x) > 0)
    np.testing.assert_array_equal(x, x_all)
    np.testing.assert_array_equal(y, y_all)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    unit=st.sampled_from(["N", "kgf", "lbf"]),
    seconds=st.floats(11.0, 20.0),  # past the 10 s window: the view scrolls for 1-10 s
)
def test_drawn_envelope_holds_every_columns_extremes_in_the_display_unit(qapp, seed, unit, seconds):
    """Streamed at 40 frames a second into a real plot, a 10 s window: every pixel column
    in view is drawn as exactly the minimum and maximum of its samples converted to the
    display unit, the newest column's samples count for the y range, and the range holds
    every sample in view."""
    plot = LivePlot()  # a new one per example (qtbot's would be shared by all)
    plot.resize(700, 300)
    plot.show()
    qapp.processEvents()
    assert plot.view_box.width() > 0
    plot.set_units(DisplayUnits(unit))
    plot.set_window_s(10.0)
    t, f = _signal(seed, int(seconds * 1000), 1000.0, 3.0)
    trace = TraceBuffer(600_001)
    written = 0
    for end in range(25, t.shape[0] + 25, 25):  # 25 ms frames, as the main window does
        trace.append(t[written:end], f[written:end])
        written = min(end, t.shape[0])
        plot.set_data(*trace.window(plot.span_s))
    k = np.float32(DisplayUnits(unit).per_newton)
    y_all = f * k if unit != "N" else f
    (t0, _), (y0, y1) = plot.view_box.viewRange()
    x, y = plot.drawn_data()
    column_s = plot.window_s / plot.view_box.width()
    done = column_start_s(float(t[-1]), column_s)
    in_view = (t >= t0) & (t < done)
    # each column's samples are a run (time ascends): reduced from where each one begins
    used, begins = np.unique(np.floor(t[in_view] / column_s), return_index=True)
    assert x.shape[0] == 2 * used.shape[0]  # no gaps here: no NaN breaks
    samples = y_all[in_view]
    lo, hi = np.minimum.reduceat(samples, begins), np.maximum.reduceat(samples, begins)
    np.testing.assert_array_equal(np.minimum(y[0::2], y[1::2]), lo)  # each drawn pair is
    np.testing.assert_array_equal(np.maximum(y[0::2], y[1::2]), hi)  # its column's extremes
    visible = y_all[t >= t0]
    assert y0 <= visible.min() and visible.max() <= y1
    assert y1 == pytest.approx(max(float(visible.max()) * 1.1, y1), rel=1e-6)
    np.testing.assert_array_equal(plot.curve_data()[1], y_all[-trace.window(plot.span_s)[0].size :])
    plot.close()
    plot.deleteLater()


def test_y_range_follows_a_spike_in_the_newest_column(qtbot):
    """A spike not yet in a completed column still grows the y range at once."""
    plot = LivePlot()
    qtbot.addWidget(plot)
    plot.set_window_s(10.0)
    t = np.arange(0, 12.0, 0.001)
    f = np.full(t.shape[0], 5.0, dtype=np.float32)
    plot.set_data(t, f)
    f[-1] = 80.0
    plot.set_data(t, f)
    (_, _), (_, y1) = plot.view_box.viewRange()
    assert y1 == pytest.approx(88.0)


def test_trace_item_draws_what_it_was_given_and_breaks_at_nan(qtbot):
    item = TraceItem(hairline("#ffffff"))
    x, y = np.array([0.0, 1.0, np.nan, 2.0, 3.0]), np.array([0.0, 1.0, np.nan, 1.0, 0.0])
    item.set_xy(x, y)
    assert item.xy()[0] is x
    path = item.path()
    elements = [path.elementAt(i) for i in range(path.elementCount())]
    assert sum(e.isMoveTo() for e in elements) == 2  # two pieces, none across the NaN
    assert [(e.x, e.y) for e in elements if e.isMoveTo()] == [(0.0, 0.0), (2.0, 1.0)]
    assert item.boundingRect().getCoords() == (0.0, 0.0, 3.0, 1.0)
    assert item.pen().widthF() == 0.0 and item.pen().isCosmetic()


def test_bands_and_grid_span_what_they_are_told():
    band = BandItem(hairline("#ffffff").brush())
    band.setRegion((2.0, 5.0))
    band.set_span(-10.0, 90.0)
    assert band.getRegion() == (2.0, 5.0)
    assert band.rect().getCoords() == (2.0, -10.0, 5.0, 90.0)
    across = BandItem(hairline("#ffffff").brush(), vertical=False)
    across.setRegion((25.0, 35.0))
    across.set_span(100.0, 200.0)
    assert across.rect().getCoords() == (100.0, 25.0, 200.0, 35.0)
    grid = HLinesItem(hairline("#ffffff"))
    grid.set_lines((10.0, 20.0), 0.0, 30.0)
    assert grid.boundingRect().getCoords() == (0.0, 10.0, 30.0, 20.0)


def test_overlays_span_the_view_as_it_scrolls(qtbot):
    """Grid lines, the target band and hold shading reach across the view wherever it
    scrolls to, and shading is dropped with its hold."""
    plot = LivePlot()
    qtbot.addWidget(plot)
    plot.set_window_s(10.0)
    plot.set_target((25.0, 35.0))
    plot.add_hold(1.0, 2.0)
    for end_s in (5.0, 60.0, 1000.0):
        t = np.arange(end_s - 12.0, end_s, 0.001)
        plot.set_data(t, np.full(t.shape[0], 30.0, dtype=np.float32))
        (x0, x1), (y0, y1) = plot.view_box.viewRange()
        g0, g1 = plot._grid.x_span
        assert g0 <= x0 and x1 <= g1 and plot._grid.levels
        b0, b1 = plot.target_band.span
        assert b0 <= x0 and x1 <= b1
        for band in plot._bands:
            assert band.span[0] <= y0 and y1 <= band.span[1]
    assert plot.hold_regions == []  # 1000 s on: far older than the longest window
    assert plot._bands == [plot.live_hold]


@pytest.mark.parametrize("columns", [-40, -17, -9, -5, -2, -1, 0, 1, 3])
def test_a_gap_breaks_the_line_wherever_it_ends_against_the_strip(qtbot, columns):
    """Whether the gap ends in the history, in the last column before the strip of newest
    columns, or inside the strip, neither curve draws a line across it."""
    plot = LivePlot()
    qtbot.addWidget(plot)
    plot.set_window_s(10.0)
    column_s = plot.window_s / plot._view_px
    step_s = STEP_COLUMNS * column_s
    t_strip = np.floor(30.0 / step_s) * step_s
    g1 = t_strip + (columns + 0.5) * column_s  # the first sample after the gap
    g0 = g1 - 0.5
    t = np.arange(15.0, t_strip + 4.5 * column_s, 0.0005)  # 4 columns into the strip
    t = t[(t <= g0) | (t >= g1)]
    plot.add_gap(g0, g1)
    plot.set_data(t, np.full(t.shape[0], 5.0, dtype=np.float32))
    assert plot._strip_start_s == pytest.approx(t_strip)
    for curve in (plot.history_curve, plot.recent_curve):
        x, y = curve.xy()
        drawn = np.flatnonzero(np.isfinite(y[:-1]) & np.isfinite(y[1:]))  # segments a → a+1
        assert not np.any((x[drawn] < g0) & (x[drawn + 1] > g1))  # none across the gap
    _, y = plot.drawn_data()
    assert np.count_nonzero(np.isnan(y)) == 1
