"""Render the review window with a trainee-vs-reference comparison open → docs/review.png.

Usage: .venv/bin/python scripts/review_screenshot.py [--out docs/review.png] [--db PATH]

Without --db it builds the demo library (gui/review/demo.py: an expert reference and a
trainee's three sessions) in a temporary database. Runs offscreen; no display needed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/review.png")
    parser.add_argument("--db", help="an existing library (default: build the demo library)")
    parser.add_argument("--session", help="session to review (default: newest)")
    parser.add_argument(
        "--reference", help="reference session (default: the oldest; 'none' for no comparison)"
    )
    parser.add_argument("--tab", default="compare", choices=("compare", "progress", "holds"))
    args = parser.parse_args(argv)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from gui import theme
    from gui.review import ReviewWindow
    from gui.review.demo import build_demo_library
    from logger.store import SessionStore

    theme.apply(app)
    with tempfile.TemporaryDirectory() as tmp:
        if args.db:
            store = SessionStore(args.db)
            sessions = store.list_sessions()
            session = args.session or sessions[-1].id
            reference = args.reference or sessions[0].id
        else:
            store = SessionStore(Path(tmp) / "demo.sqlite3")
            lib = build_demo_library(store)
            session, reference = lib.trainee[-1], lib.reference
        w = ReviewWindow(store)
        w.resize(1680, 1050)
        w.show()
        w.open_session(session)
        if reference.lower() != "none":
            w.set_reference(reference)
        w.tabs.setCurrentWidget(
            {"compare": w.compare, "progress": w.progress, "holds": w.holds}[args.tab]
        )
        for _ in range(3):
            app.processEvents()
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if not w.grab().save(str(out)):
            print(f"cannot write {out}", file=sys.stderr)
            return 1
        print(out)
        w.close()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
