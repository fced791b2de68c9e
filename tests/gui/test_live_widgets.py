"""Widgets of the live window on plain numbers, records and numpy arrays (offscreen Qt)."""

from __future__ import annotations

import gc
import wave

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QEvent, QObject, Qt

from firmware_protocol.sim.scenario import builtin_names
from gui import theme
from gui.display import DisplayUnits
from gui.main_window import ramp_rate_n_per_s
from gui.sound import Sound, Sounder
from gui.widgets.alerts import AlertBanner, AlertLog, describe
from gui.widgets.device_bar import DeviceBar, LinkStatus
from gui.widgets.holds_table import HoldsTable
from gui.widgets.live_plot import MAX_OVERLAYS, STEP_COLUMNS, LivePlot, column_envelope
from gui.widgets.point_plan import PointPlanView
from gui.widgets.readout import PROGRESS_STEPS, ForceReadout
from logger.link import ports
from logger.link.ports import FoundPort, likeliest_arduino
from logger.records import Alert, AlertKind, DeviceInfo, Hold, Point

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints"),
]


def _hold(index: int, mean_n: float = 30.0) -> Hold:
    return Hold(index, 0, "Upper trapezius L", 3.0, 20.0, 17.0, mean_n, 33.0, 4.1, 9.5, 0, 0, 80.0)


def test_display_units_convert_and_show_pressure():
    u = DisplayUnits("kgf", 1.0)
    assert u.per_newton == pytest.approx(1 / 9.80665)
    assert u.force(9.80665) == "1.00 kgf"
    assert u.pressure(10.0) == "100 kPa"  # 1 N/cm² = 10 kPa
    assert DisplayUnits("N").pressure(10.0) == ""


def test_plot_holds_every_streamed_sample_and_follows_the_window(qtbot):
    plot = LivePlot()
    qtbot.addWidget(plot)
    plot.set_window_s(10.0)
    t = np.arange(0, 25.0, 0.001)
    f = np.sin(t)
    plot.set_data(t, f)
    x, y = plot.curve_data()
    assert x.shape[0] == t.shape[0]
    np.testing.assert_allclose(y, f)
    (x0, x1), _ = plot.view_box.viewRange()
    assert x1 - x0 == pytest.approx(10.0)
    step_s = STEP_COLUMNS * 10.0 / plot.view_box.width()  # it scrolls a step at a time
    assert 25.0 <= x1 <= 25.0 + step_s + 1e-9


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(0.0, 100.0), min_size=1, max_size=400),
    st.floats(0.01, 5.0),
    st.integers(0, 2**32 - 1),
)
@example(times=[0.0, 1.9], column_s=0.01, seed=0)
def test_column_envelope_keeps_each_columns_extremes(times, column_s, seed):
    t = np.sort(np.asarray(times))
    y = np.random.default_rng(seed).normal(size=t.shape[0]).astype(np.float32)
    x_env, y_env = column_envelope(t, y, column_s)
    # a column runs from one edge k * column_s to the next, the edges computed as products
    # (t / column_s can floor one column off an edge: 1.9 / 0.01 = 190, but 190 * 0.01 > 1.9)
    first, last = np.floor(t[0] / column_s), np.floor(t[-1] / column_s)
    edges = np.arange(first + 1.0, last + 1.0) * column_s
    columns = first + np.searchsorted(edges, t, side="right")
    used = np.unique(columns)
    assert x_env.shape[0] == y_env.shape[0] == 2 * used.shape[0]
    assert np.all(np.diff(x_env) >= 0)  # in time order
    for k, c in enumerate(used):
        in_column = y[columns == c]
        pair = y_env[2 * k : 2 * k + 2]
        assert sorted(pair.tolist()) == [in_column.min(), in_column.max()]
        assert c * column_s <= x_env[2 * k] <= x_env[2 * k + 1] <= (c + 1) * column_s


def test_a_ten_minute_window_is_drawn_from_two_points_per_pixel_column(qtbot):
    plot = LivePlot()
    qtbot.addWidget(plot)
    plot.resize(900, 400)
    plot.show()
    plot.set_window_s(600.0)
    t = np.arange(0, 600.0, 0.001)
    f = np.full(t.shape[0], 10.0, dtype=np.float32)
    f[300_123] = 55.0  # one sample: the spike must survive
    plot.set_data(t, f)
    assert plot.curve_data()[0].shape[0] == 600_000
    x, y = plot.drawn_data()
    assert x.shape[0] <= 2 * (plot.view_box.width() + 1)
    assert y.max() == 55.0 and y.min() == 10.0
    # more samples within the same pixel column change nothing: nothing is repainted
    history, recent = plot.history_curve.xy()[0], plot.recent_curve.xy()[0]
    plot.set_data(np.append(t, 599.9995), np.append(f, np.float32(10.0)))
    assert plot.history_curve.xy()[0] is history
    assert plot.recent_curve.xy()[0] is recent


def test_plot_axis_limits_and_target_in_the_display_unit(qtbot):
    plot = LivePlot()
    qtbot.addWidget(plot)
    plot.set_units(DisplayUnits("lbf", 1.0))
    plot.set_limits(40.0, 60.0)
    plot.set_target((25.0, 35.0))
    assert plot.warn_line.value() == pytest.approx(40.0 / 4.4482216152605)
    assert plot.max_line.value() == pytest.approx(60.0 / 4.4482216152605)
    lo, hi = plot.target_band.getRegion()
    assert (lo, hi) == pytest.approx((25.0 / 4.4482216152605, 35.0 / 4.4482216152605))
    assert plot.plot_item.getAxis("right").isVisible()
    plot.set_target(None)
    assert not plot.target_band.isVisible()


def test_plot_pause_freezes_the_view(qtbot):
    plot = LivePlot()
    qtbot.addWidget(plot)
    t = np.arange(0, 5.0, 0.01)
    plot.set_data(t, t)
    plot.set_paused(True)
    plot.set_data(t + 5.0, t)
    x, _ = plot.curve_data()
    assert x[-1] == pytest.approx(t[-1])
    plot.set_paused(False)
    plot.set_data(t + 5.0, t)
    assert plot.curve_data()[0][-1] == pytest.approx(t[-1] + 5.0)


@pytest.mark.slow
def test_plot_overlays_stay_bounded(qtbot):
    plot = LivePlot()
    qtbot.addWidget(plot)
    for i in range(MAX_OVERLAYS + 50):
        plot.add_hold(i * 1.0, i + 0.5)
        plot.add_mark(i * 1.0, f"P{i}")
    plot.set_data(np.array([0.0, MAX_OVERLAYS + 50.0]), np.zeros(2))
    assert len(plot.hold_regions) == MAX_OVERLAYS
    assert len(plot.mark_labels) == MAX_OVERLAYS
    assert plot.mark_labels[-1] == f"P{MAX_OVERLAYS + 49}"
    # an hour later everything older than the longest window is gone
    plot.set_data(np.array([0.0, 4000.0]), np.zeros(2))
    assert plot.hold_regions == [] and plot.mark_labels == []


def test_no_negative_zero_in_forces_and_ramps(qtbot):
    units = DisplayUnits()
    assert units.force(-0.03) == "0.0 N"
    assert units.value(-0.03) == "0.0"
    assert units.rate(-0.03) == "0.0 N/s"
    assert units.rate(-2.46) == "-2.5 N/s"  # a real fall keeps its sign
    assert DisplayUnits("kgf").rate(9.80665) == "1.00 kgf/s"
    assert DisplayUnits(contact_area_cm2=1.0).pressure(-0.01) == "0 kPa"
    ro = ForceReadout()
    qtbot.addWidget(ro)
    ro.set_ramp(-0.03)
    assert ro.ramp_value.text() == "0.0 N/s"
    ro.set_force(-0.03)
    assert ro.force_label.text() == "0.0"


class StyleChanges(QObject):
    """Counts the style changes (each ``setStyleSheet`` re-polishes) of one widget."""

    def __init__(self, widget) -> None:
        super().__init__()
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.StyleChange:
            self.count += 1
        return False


def test_readout_restyles_only_when_the_colour_changes(qtbot):
    ro = ForceReadout()
    qtbot.addWidget(ro)
    ro.show()  # only a shown widget gets style changes
    ro.set_limits(40.0, 60.0)
    force_styles, timer_styles = StyleChanges(ro.force_label), StyleChanges(ro.timer_label)
    ro.set_force(20.0)
    assert ro.force_color == theme.TEXT and force_styles.count > 0
    n = force_styles.count
    for f in (20.5, 21.0, 30.0, 39.9):  # every frame, the same colour
        ro.set_force(f)
    assert force_styles.count == n and ro.force_label.text() == "39.9"
    ro.set_force(45.0)
    assert ro.force_color == theme.WARN and force_styles.count > n
    ro.set_hold(1.0, 0.5)
    m = timer_styles.count
    assert m > 0
    for elapsed_s in (0.6, 0.7, 0.8):
        ro.set_hold(1.0, elapsed_s)
    assert timer_styles.count == m


def test_readout_colours_and_chimes_once_per_hold(qtbot):
    ro = ForceReadout()
    qtbot.addWidget(ro)
    ro.set_limits(40.0, 60.0)
    ro.set_force(20.0)
    assert ro.force_color == theme.TEXT
    ro.set_force(45.0)
    assert ro.force_color == theme.WARN
    ro.set_force(61.0)
    assert ro.force_color == theme.MAX
    ro.set_preset_s(7.0)
    chimes: list[float] = []
    ro.target_reached.connect(chimes.append)
    ro.set_hold(10.0, 6.9, 30.0, 29.0)
    assert chimes == []
    ro.set_hold(10.0, 7.0, 30.0, 29.0)
    ro.set_hold(10.0, 8.0, 30.0, 29.0)
    assert chimes == [7.0]
    ro.set_point_target_s(60.0)  # the point's own target wins over the preset
    assert ro.target_s == 60.0
    ro.set_hold(30.0, 59.0)
    ro.set_hold(30.0, 61.0)
    assert chimes == [7.0, 60.0]


def test_point_plan_highlights_current_and_names_next(qtbot):
    view = PointPlanView()
    qtbot.addWidget(view)
    view.set_points([Point(0, "A"), Point(1, "B"), Point(2, "C")])
    assert view.next_name == "A"
    view.set_current(1)
    assert view.current_name == "2. B" and view.next_name == "C"
    assert view.list.item(1).font().bold()
    view.set_current(2)
    assert view.next_name == "end of plan"
    with qtbot.waitSignal(view.jump_requested) as sig:
        rect = view.list.visualItemRect(view.list.item(0))
        qtbot.mouseClick(view.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert sig.args == [0]


def test_holds_table_fills_and_follows_units(qtbot):
    table = HoldsTable()
    qtbot.addWidget(table)
    table.add_hold(_hold(0, 30.0))
    table.add_hold(_hold(1, 9.80665))
    assert table.rowCount() == 2
    assert table.item(1, 4).text() == "9.8 N"
    assert table.item(1, 10).text() == "80 %"
    table.set_units(DisplayUnits("kgf"))
    assert table.rowCount() == 2
    assert table.item(1, 4).text() == "1.00 kgf"


def test_holds_table_is_bounded(qtbot, monkeypatch):
    import gui.widgets.holds_table as module

    monkeypatch.setattr(module, "MAX_ROWS", 5)
    table = HoldsTable()
    qtbot.addWidget(table)
    for i in range(8):
        table.add_hold(_hold(i))
    assert table.rowCount() == 5 and [h.index for h in table.holds] == [3, 4, 5, 6, 7]
    assert table.item(0, 0).text() == "4"


def test_alert_banner_shows_and_clears_after_the_excursion(qtbot):
    banner = AlertBanner()
    qtbot.addWidget(banner)
    banner.min_shown_s = 0.0
    units = DisplayUnits()
    warn = Alert(1.0, AlertKind.WARN, 41.0, 0, None)
    banner.show_alert(warn, describe(warn, units, "A", 40.0))
    assert banner.active and "warning level 40.0 N" in banner.text and "A" in banner.text
    big = Alert(1.5, AlertKind.MAX, 61.0, 0, None)
    banner.show_alert(big, describe(big, units, "A"))
    assert "OVER MAXIMUM 61.0 N" in banner.text
    banner.show_alert(warn, "later warn")  # a max is not downgraded
    assert banner.kind == AlertKind.MAX and "OVER MAXIMUM" in banner.text
    banner.update_state(True)  # the logger's excursion is still open
    assert banner.active and not banner.isHidden()
    banner.update_state(False)
    assert not banner.active and banner.isHidden()


def test_alert_banner_stays_up_at_least_min_shown_s(qtbot):
    banner = AlertBanner()
    qtbot.addWidget(banner)
    banner.min_shown_s = 60.0
    spike = Alert(1.0, AlertKind.MAX, 61.0, 0, None)
    banner.show_alert(spike, describe(spike, DisplayUnits(), None))
    banner.update_state(False)  # a spike already over: still shown for a while
    assert banner.active
    banner.min_shown_s = 0.0
    banner.update_state(False)
    assert not banner.active


def test_alert_log_is_bounded(qtbot):
    log = AlertLog()
    qtbot.addWidget(log)
    for i in range(2100):
        log.add_entry(float(i), f"e{i}")
    assert len(log.texts()) == 2000 and log.entries == 2100
    assert log.texts()[-1].endswith("e2099")


def test_device_bar_status_and_custom_url(qtbot):
    bar = DeviceBar()
    qtbot.addWidget(bar)
    device = DeviceInfo("SIM-0001", "1.2.3", "1.0", 1000.0, 1)
    bar.set_status(LinkStatus("reconnecting", device, 12, 3, 1, 4.0))
    assert bar.state_text == "reconnecting…"
    assert "SIM-0001" in bar.status_label.text() and "lost 12" in bar.status_label.text()
    # every built-in scenario is offered, looping for as long as it is connected
    urls = [bar.picker.itemData(i) for i in range(bar.picker.count())]
    labels = [bar.picker.itemText(i) for i in range(bar.picker.count())]
    for name in builtin_names():
        assert any(f"scenario={name}&loop=1" in str(u) for u in urls), urls
        assert any(label.startswith(f"Simulator: {name}") for label in labels), labels
    if likeliest_arduino(ports.found_ports()) is None:  # no Arduino here: the demo first
        assert bar.url == "sim://?scenario=demo&loop=1"
    bar.set_url("sim://x?scenario=demo&speed=0")
    with qtbot.waitSignal(bar.connect_requested) as sig:
        bar.connect_button.click()
    assert sig.args == ["sim://x?scenario=demo&speed=0"]
    bar.set_connected(True)
    with qtbot.waitSignal(bar.disconnect_requested):
        bar.connect_button.click()


def test_ramp_rate_is_the_slope_of_the_trace():
    t = np.arange(0, 2.0, 0.001)
    assert ramp_rate_n_per_s(t, 10.0 * t + 3.0, 0.25) == pytest.approx(10.0)
    assert ramp_rate_n_per_s(t[:2], t[:2], 0.25) is None


def test_sounder_respects_mute_and_writes_playable_wavs(qtbot):
    sounder = Sounder(muted=True)
    try:
        sounder.play(Sound.ALARM)
        assert sounder.played == []
        sounder.muted = False
        sounder.play(Sound.CHIME)
        assert sounder.played == [Sound.CHIME]
        for path in sounder._files.values():
            with wave.open(str(path)) as w:
                assert w.getnframes() > 1000 and w.getframerate() == 22050
    finally:
        sounder.close()


def test_the_qt_binding_keeps_its_references_to_true_and_none(qtbot):
    """PySide6 6.12.0 drops a reference to True on every Signal.emit and to None on paint
    paths, which aborts Python 3.11 within seconds of a live plot (hence the pin in
    pyproject.toml). Guard the pin: a few hundred emits and repaints lose nothing."""
    import sys

    from PySide6.QtCore import QObject, Signal

    class Emitter(QObject):
        fired = Signal(int)

    emitter = Emitter()
    emitter.fired.connect(lambda v: None)
    plot = LivePlot()
    qtbot.addWidget(plot)
    plot.show()
    gc.collect()  # garbage of earlier tests holds references too: count from a clean heap
    true_before, none_before = sys.getrefcount(True), sys.getrefcount(None)
    for i in range(300):
        emitter.fired.emit(i)
        plot.set_data(np.arange(1000.0) + i, np.arange(1000.0))
        plot.repaint()
    gc.collect()
    assert sys.getrefcount(True) >= true_before - 20
    assert sys.getrefcount(None) >= none_before - 20


def test_hold_timer_keeps_its_holds_target_and_resets_on_release(qtbot):
    """The point changes mid-hold: the running hold keeps its own point's target; after
    release the timer is back at 00:00 against the new point's target."""
    ro = ForceReadout()
    qtbot.addWidget(ro)
    chimes: list[float] = []
    ro.target_reached.connect(chimes.append)
    ro.set_point_target_s(7.0)
    ro.set_hold(1.0, 3.0, target_s=7.0)
    ro.set_point_target_s(60.0)  # the next point, marked during the hold
    assert ro.target_label.text() == "/ 00:07"
    ro.set_hold(1.0, 7.5, target_s=7.0)
    assert chimes == [7.0] and ro.progress.value() == PROGRESS_STEPS
    ro.set_hold(None)  # released
    assert ro.timer_label.text() == "00:00" and ro.progress.value() == 0
    assert ro.target_label.text() == "/ 01:00"
    ro.set_hold(20.0, 1.0)  # the next hold: the current point's target
    assert ro.target_label.text() == "/ 01:00"
    assert ro.progress.value() == int(1 / 60 * PROGRESS_STEPS)


@pytest.mark.parametrize("unit", ["N", "kgf", "lbf"])
def test_kpa_axis_follows_a_unit_change_at_once(qtbot, unit):
    """The bug: after N → kgf the kPa axis read 1000× too low until a restart."""
    plot = LivePlot()
    qtbot.addWidget(plot)
    plot.resize(800, 400)
    plot.show()
    t = np.linspace(0.0, 10.0, 200)
    plot.set_units(DisplayUnits("N", 1.0))
    plot.set_data(t, 200.0 * t / 10.0)  # up to 200 N: 2000 kPa on 1 cm²
    qtbot.wait(50)  # a paint: the axes take the range
    units = DisplayUnits(unit, 1.0)
    plot.set_units(units)
    plot.set_data(t, 200.0 * t / 10.0)
    qtbot.wait(50)
    right = plot.plot_item.getAxis("right")
    # one display unit on the left axis is this many kPa on the right one, as the readout
    kpa_per_unit = right.autoSIPrefixScale * right.scale
    assert kpa_per_unit == pytest.approx(units.kpa_per_newton / units.per_newton)
    assert right.labelUnitPrefix == ""


def test_the_likeliest_arduino_is_chosen_among_ports():
    def row(port: str, vid: int | None, description: str = "") -> FoundPort:
        return FoundPort(port, description, vid, 0x0043 if vid else None)

    bluetooth = row("/dev/ttyS0", None, "ttyS0")
    ftdi = row("/dev/ttyUSB0", 0x0403, "FT232R USB UART")
    uno = row("/dev/ttyACM0", 0x2341, "Arduino Uno")
    clone = row("/dev/ttyUSB1", 0x1A86, "USB2.0-Serial")
    assert likeliest_arduino([bluetooth]) is None
    assert likeliest_arduino([]) is None
    assert likeliest_arduino([bluetooth, ftdi, clone]) == "/dev/ttyUSB1"
    assert likeliest_arduino([ftdi, clone, uno, bluetooth]) == "/dev/ttyACM0"
