"""The device bar: which port, connect/disconnect, and how the link is doing.

The port picker lists the OS serial ports with their USB description, the built-in
simulator, and a free field for any pyserial URL (``socket://``, ``sim://…?scenario=``).
The status line shows the device's uid and firmware, the sample rate, lost samples, CRC
errors and clock drift, and says "reconnecting…" while the device is unplugged.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import cast

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeyEvent, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
)

from logger.records import DeviceInfo

from .. import theme

SIMULATOR_URL = "sim://?scenario=demo&loop=1"  # the demo, over and over while connected
CUSTOM = "__custom__"


class UrlEdit(QLineEdit):
    """The URL field: Return connects even though the window has Return as a shortcut
    (the client's signal), as typed text goes to the field and not to the window's keys."""

    def event(self, e: QEvent) -> bool:
        override = e.type() == QEvent.Type.ShortcutOverride and isinstance(e, QKeyEvent)
        if override and cast(QKeyEvent, e).key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            e.accept()
            return True
        return super().event(e)


@dataclass(slots=True)
class LinkStatus:
    """What the status line shows; plain numbers so the bar needs no live session."""

    state: str = "disconnected"  # connecting | streaming | reconnecting | stopped | failed
    device: DeviceInfo | None = None
    lost_samples: int = 0
    crc_errors: int = 0
    reconnects: int = 0
    drift_ppm: float = 0.0
    detail: str = ""


class ElidedLabel(QLabel):
    """A one-line label that ends in "…" when too narrow; the full text is its tooltip.

    ``text()`` stays the full text; only the painting is shortened.
    """

    def setText(self, text: str) -> None:  # noqa: N802 - Qt override
        super().setText(text)
        self.setToolTip(text)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        rect = self.contentsRect()
        shown = self.fontMetrics().elidedText(
            self.text(), Qt.TextElideMode.ElideRight, rect.width()
        )
        self.style().drawItemText(
            painter, rect, int(self.alignment()), self.palette(), self.isEnabled(), shown,
            QPalette.ColorRole.WindowText,
        )  # fmt: skip
        painter.end()

    @property
    def elided(self) -> bool:
        return self.fontMetrics().horizontalAdvance(self.text()) > self.contentsRect().width()


def found_ports() -> tuple[list[tuple[str, str]], str | None]:
    """``(port, description)`` of every OS serial port (USB description where known), and
    the port likeliest to be the sensor's Arduino (None when none looks like one)."""
    from logger.link.ports import found_ports as _found
    from logger.link.ports import likeliest_arduino

    rows = _found()
    out = []
    for row in rows:
        usb = f"USB {row.usb_id}" if row.usb_id else ""
        text = " · ".join(x for x in (row.description, row.manufacturer, usb) if x)
        out.append((row.port, text))
    return out, likeliest_arduino(rows)


@cache  # the package's own files: read once, not for every window and port refresh
def simulator_choices() -> tuple[tuple[str, str, str], ...]:
    """``(label, url, description)`` of each built-in simulator scenario, looping while
    connected."""
    from firmware_protocol.sim.scenario import builtin_names, load_scenario

    out = []
    for name in builtin_names():
        url = SIMULATOR_URL if name == "demo" else f"sim://?scenario={name}&loop=1"
        out.append((f"Simulator: {name}", url, load_scenario(name).description))
    return tuple(out)


class DeviceBar(QFrame):
    connect_requested = Signal(str)
    disconnect_requested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("panel")
        self.connected = False
        self.picker = QComboBox()
        self.picker.setMinimumWidth(200)
        self.picker.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.picker.setMinimumContentsLength(18)
        self.url_edit = UrlEdit()
        self.url_edit.setPlaceholderText("sim://?scenario=demo  ·  socket://host:port  ·  COM3")
        self.url_edit.setMinimumWidth(140)
        self.url_edit.returnPressed.connect(self._on_connect_clicked)
        self.refresh_button = QPushButton("↻")
        self.refresh_button.setToolTip("Look for serial ports again")
        self.refresh_button.clicked.connect(self.refresh_ports)
        self.connect_button = QPushButton("Connect")
        self.connect_button.setMinimumWidth(150)
        self.connect_button.clicked.connect(self._on_connect_clicked)
        for b in (self.refresh_button, self.connect_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.state_label = QLabel("disconnected")
        self.state_label.setFont(theme.font(theme.BASE_PT + 1, bold=True))
        self.status_label = ElidedLabel("")
        self.status_label.setObjectName("dim")
        self.status_label.setFont(theme.font(theme.BASE_PT, mono=True))
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(QLabel("Device"))
        layout.addWidget(self.picker)
        layout.addWidget(self.url_edit)
        layout.addWidget(self.refresh_button)
        layout.addWidget(self.connect_button)
        layout.addSpacing(12)
        layout.addWidget(self.state_label)
        layout.addWidget(self.status_label, 1)
        self.picker.currentIndexChanged.connect(self._on_pick)
        self.refresh_ports()

    # ------------------------------------------------------------------ ports
    def refresh_ports(self) -> None:
        current = self.picker.currentData()
        self.picker.blockSignals(True)
        self.picker.clear()
        ports, arduino = found_ports()
        tip = Qt.ItemDataRole.ToolTipRole
        for port, description in ports:
            self.picker.addItem(f"{port}  —  {description}" if description else port, port)
            self.picker.setItemData(self.picker.count() - 1, description, tip)
        for label, url, description in simulator_choices():
            self.picker.addItem(label, url)
            self.picker.setItemData(self.picker.count() - 1, description or label, tip)
        self.picker.addItem("Other URL…", CUSTOM)
        # what was chosen before; else the likeliest Arduino; else the demo simulator
        wanted = current if current is not None else arduino or SIMULATOR_URL
        index = self.picker.findData(wanted)
        self.picker.setCurrentIndex(max(index, 0))
        self.picker.blockSignals(False)
        self._on_pick()

    def _on_pick(self, *_: object) -> None:
        data = self.picker.currentData()
        if data == CUSTOM:
            self.url_edit.setEnabled(True)
            self.url_edit.setFocus()
        else:
            self.url_edit.setText(data or "")

    def set_url(self, url: str) -> None:
        """Preselect ``url`` (a found port, the simulator, or a free URL)."""
        index = self.picker.findData(url)
        if index < 0:
            self.picker.setCurrentIndex(self.picker.findData(CUSTOM))
            self.url_edit.setText(url)
        else:
            self.picker.setCurrentIndex(index)
            self.url_edit.setText(url)

    @property
    def url(self) -> str:
        return self.url_edit.text().strip()

    def _on_connect_clicked(self) -> None:
        if self.connected:
            self.disconnect_requested.emit()
        elif self.url:
            self.connect_requested.emit(self.url)

    def set_connected(self, connected: bool) -> None:
        self.connected = connected
        self.connect_button.setText("Disconnect" if connected else "Connect")
        for w in (self.picker, self.url_edit, self.refresh_button):
            w.setEnabled(not connected)

    # ------------------------------------------------------------------ status
    def set_status(self, status: LinkStatus) -> None:
        state = status.state
        color = {
            "streaming": theme.OK,
            "connecting": theme.ACCENT,
            "reconnecting": theme.WARN,
            "failed": theme.MAX,
        }.get(state, theme.TEXT_DIM)
        shown = "reconnecting…" if state == "reconnecting" else state
        self.state_label.setText(shown)
        self.state_label.setToolTip(status.detail)
        self.state_label.setStyleSheet(f"color: {color};")
        # the link's health first (what a narrow window must still show), the device last
        parts = []
        if state == "failed" and status.detail:
            parts.append(status.detail)
        if state not in ("disconnected", "failed"):
            if status.device is not None:
                parts.append(f"{status.device.rate_hz:g} Hz")
            parts.append(f"lost {status.lost_samples}")
            parts.append(f"CRC {status.crc_errors}")
            parts.append(f"drift {round(status.drift_ppm):+d} ppm")  # never "-0"
            if status.reconnects:
                parts.append(f"reconnects {status.reconnects}")
        if status.device is not None and state != "failed":
            parts.append(f"{status.device.uid}  fw {status.device.firmware}")
        self.status_label.setText("   ".join(parts))

    @property
    def state_text(self) -> str:
        return self.state_label.text()
