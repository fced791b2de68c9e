"""Work-arounds for bugs of the Qt binding installed with the app.

PySide6 6.12 loses one reference to ``True`` on every ``Signal.emit()`` (the C code
returns ``Py_True`` without taking a reference), and references to ``None`` on several
virtual-method and paint paths (measured: ~250 per pyqtgraph frame). On Python ≥ 3.12
these singletons are immortal and nothing happens; on Python 3.11 their reference count
reaches zero within seconds to minutes of a live plot and the interpreter aborts with
"Fatal Python error: bool_dealloc" / "none_dealloc".

The fix does for 3.11 what 3.12 does for everyone: it gives the singletons a reference
count so large (2**40) that no session can use it up (at 10,000 lost references per
second that is three years). Statically allocated objects are never freed, so the extra count is
harmless. Applied once, when ``gui`` is imported.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

IMMORTAL_BOOST = 1 << 40
SINGLETONS = (True, False, None, Ellipsis, NotImplemented)


def make_bools_immortal() -> bool:
    """Raise the reference counts of ``True``/``False`` on Python < 3.12; True if changed."""
    if sys.version_info >= (3, 12) or hasattr(sys, "gettotalrefcount"):
        return False  # immortal already, or a debug build with its own accounting
    changed = False
    for obj in SINGLETONS:
        refcnt = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt is the first field
        if refcnt.value < IMMORTAL_BOOST:
            refcnt.value += IMMORTAL_BOOST
            changed = True
    if changed:
        log.debug("bool singletons made immortal (PySide6 Signal.emit refcount bug)")
    return changed
