"""The PySide6 + pyqtgraph desktop app: live window, review, dialogs, calibration wizard."""

from .qt_compat import make_bools_immortal

make_bools_immortal()
