"""Colours, fonts and the style sheet of the live window.

One place for the look, so that the plot, the readout and the banner agree. The palette is
dark and calm with high-contrast text: a therapist reads it at arm's length, often under
treatment-room lighting, and red is reserved for the over-limit alarm.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

BACKGROUND = "#0f1419"
PANEL = "#182029"
PANEL_RAISED = "#222c37"
BORDER = "#33414f"
GRID = "#2e3d4c"  # plot reference lines
TEXT = "#eef3f7"
TEXT_DIM = "#9fb0bf"
ACCENT = "#4fc3f7"  # the force trace, the current point
OK = "#66bb6a"  # target window, "streaming"
WARN = "#ffb300"
MAX = "#ff5252"
HOLD_FILL = (79, 195, 247, 45)  # holds shaded on the plot (RGBA)
TARGET_FILL = (102, 187, 106, 50)
ALERT_TINT = (255, 82, 82, 28)
PAUSED_TINT = (255, 255, 255, 10)
GAP_FILL = (128, 128, 128, 70)  # samples lost: a grey band, the trace broken across it
RECORDING = "#ff5252"
PROFILE = "#ce93d8"  # a guided target profile and its band
PROFILE_FILL = (206, 147, 216, 40)
RATING = "#ff8a65"  # the client's pain rating

SANS_FAMILIES = ("Inter", "Segoe UI", "Helvetica Neue", "DejaVu Sans", "Arial")
MONO_FAMILIES = ("JetBrains Mono", "Consolas", "Menlo", "DejaVu Sans Mono")
# sized for a 1280×800 laptop at 96 dpi (the smallest screen the windows must fit)
READOUT_PT = 60  # the current force, readable at arm's length
TIMER_PT = 26
BIG_PT = 17
BASE_PT = 11

STYLE_SHEET = f"""
QWidget {{ background: {BACKGROUND}; color: {TEXT}; }}
QFrame#panel {{ background: {PANEL}; border: 1px solid {BORDER}; border-radius: 8px; }}
QLabel {{ background: transparent; }}
QLabel#dim {{ color: {TEXT_DIM}; }}
QPushButton {{
    background: {PANEL_RAISED}; border: 1px solid {BORDER}; border-radius: 6px;
    padding: 4px 10px; min-height: 24px;
}}
QPushButton:hover {{ border-color: {ACCENT}; }}
QPushButton:checked {{ background: {ACCENT}; color: {BACKGROUND}; }}
QPushButton:disabled {{ color: #5c6b78; }}
QPushButton#compact {{ padding: 3px 6px; min-height: 22px; }}
QPushButton#record {{ color: {RECORDING}; font-weight: bold; }}
QPushButton#record:checked {{ background: {RECORDING}; color: white; }}
QComboBox, QLineEdit, QDoubleSpinBox, QSpinBox, QPlainTextEdit, QTextEdit {{
    background: {PANEL_RAISED}; border: 1px solid {BORDER}; border-radius: 4px; padding: 4px;
}}
QTableWidget, QListWidget, QTableView {{
    background: {PANEL}; alternate-background-color: {PANEL_RAISED};
    gridline-color: {BORDER}; border: 1px solid {BORDER};
}}
QHeaderView::section {{
    background: {PANEL_RAISED}; color: {TEXT_DIM}; border: none; padding: 4px;
}}
QProgressBar {{
    background: {PANEL_RAISED}; border: 1px solid {BORDER}; border-radius: 4px;
    text-align: center; height: 14px;
}}
QProgressBar::chunk {{ background: {OK}; border-radius: 4px; }}
QLabel#error {{ color: {MAX}; font-weight: bold; }}
QCheckBox::indicator {{
    width: 14px; height: 14px; border: 1px solid {TEXT_DIM}; border-radius: 3px;
    background: {PANEL_RAISED};
}}
QCheckBox::indicator:checked {{ background: {ACCENT}; border-color: {ACCENT}; }}
"""


def font(point_size: int, *, bold: bool = False, mono: bool = False) -> QFont:
    """A font of the given size; ``mono`` keeps digits from jittering as they change."""
    f = QFont()
    f.setFamilies(list(MONO_FAMILIES if mono else SANS_FAMILIES))
    f.setStyleHint(QFont.StyleHint.Monospace if mono else QFont.StyleHint.SansSerif)
    f.setPointSize(point_size)
    f.setBold(bold)
    return f


def apply(app: QApplication) -> None:
    """Give the whole application the live window's palette and style sheet."""
    app.setStyle("Fusion")
    pal = QPalette()
    pal.setColor(QPalette.ColorRole.Window, QColor(BACKGROUND))
    pal.setColor(QPalette.ColorRole.WindowText, QColor(TEXT))
    pal.setColor(QPalette.ColorRole.Base, QColor(PANEL))
    pal.setColor(QPalette.ColorRole.AlternateBase, QColor(PANEL_RAISED))
    pal.setColor(QPalette.ColorRole.Text, QColor(TEXT))
    pal.setColor(QPalette.ColorRole.Button, QColor(PANEL_RAISED))
    pal.setColor(QPalette.ColorRole.ButtonText, QColor(TEXT))
    pal.setColor(QPalette.ColorRole.Highlight, QColor(ACCENT))
    pal.setColor(QPalette.ColorRole.HighlightedText, QColor(BACKGROUND))
    app.setPalette(pal)
    app.setFont(font(BASE_PT))
    app.setStyleSheet(STYLE_SHEET)
