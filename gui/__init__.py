"""The PySide6 + pyqtgraph desktop app: live window, review, dialogs, calibration wizard."""
