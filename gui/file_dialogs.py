"""Save dialogs that start where the user last saved (the Documents folder at first).

The folder is remembered per user (QSettings) across windows and runs, so reports and
exports land together and nobody starts in the program's own folder.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths
from PySide6.QtWidgets import QFileDialog, QWidget

from logger.paths import APP_NAME

LAST_FOLDER_KEY = "dialogs/last_folder"


def _settings() -> QSettings:
    return QSettings(APP_NAME, APP_NAME)


def last_folder() -> Path:
    """Where the next dialog opens: the last folder saved into, else the Documents folder."""
    saved = _settings().value(LAST_FOLDER_KEY, "", type=str)
    if saved and Path(saved).is_dir():
        return Path(saved)
    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(docs) if docs and Path(docs).is_dir() else Path.home()


def remember_folder(path: str | Path) -> None:
    _settings().setValue(LAST_FOLDER_KEY, str(Path(path).parent))


def ask_save_path(parent: QWidget, title: str, file_name: str, file_filter: str) -> str:
    """A save dialog starting in :func:`last_folder` with ``file_name`` proposed; the
    chosen folder is remembered. Returns "" when cancelled."""
    path, _ = QFileDialog.getSaveFileName(
        parent, title, str(last_folder() / file_name), file_filter
    )
    if path:
        remember_folder(path)
    return path
