"""The point plan: which trigger point is being worked, and what comes next.

Before the first mark no point is active (``current_index`` is None, exports write null).
A mark (device button, space bar, foot pedal, mouse, ``cli``) moves to the next point.

Decisions:

- Past the end of a plan, a mark stays on the last point: therapists repeat trials on a
  site (2–4 trials per site is the norm), and a stray press must not invent a point. The
  mark is still recorded, so the repeat is visible in the timeline.
- With an empty plan (no ``[[points]]``, no ``--points``), every mark opens an ad-hoc point
  named "Point 1", "Point 2", …, appended to :attr:`PointPlan.points`, so holds can still be
  grouped by point; :attr:`PointPlan.added` lists the points created since it was last
  cleared by whoever records the plan.
- ``jump`` to an index outside the plan raises :class:`logger.errors.BadInput`.
- :meth:`PointPlan.replace` swaps the points in place (new settings, the record dialog's
  plan): the point being worked stays current if the new plan has a point of that name
  (its overrides may change), else the plan starts again before its first point.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from .config import Limits
from .errors import BadInput
from .hold_detector import HoldLevels
from .records import Mark, MarkSource, Point

log = logging.getLogger(__name__)


class PointPlan:
    def __init__(
        self,
        points: Iterable[Point] = (),
        limits: Limits | None = None,
        *,
        current_index: int | None = None,
        adhoc: bool | None = None,
    ) -> None:
        """``current_index`` resumes a plan (e.g. after the config changed mid-session);
        ``adhoc`` (default: the plan is empty) makes marks past the end add points."""
        self.points = _numbered(points)
        self.limits = limits or Limits()
        self.adhoc = not self.points if adhoc is None else adhoc
        self.added: list[Point] = []
        if current_index is not None and not 0 <= current_index < len(self.points):
            raise BadInput(f"point index {current_index} out of range ({len(self.points)} points)")
        self._index: int | None = current_index

    def replace(self, points: Iterable[Point]) -> None:
        """New points in place of these (see the module docstring for the current point);
        an empty list makes the plan ad hoc."""
        new = _numbered(points)
        name = self.current.name if self.current is not None else None
        index = next((p.index for p in new if p.name == name), None)
        self.added = []
        self.adhoc = not new
        self._index = None  # first: a reader in another thread never sees an index beyond
        self.points = new
        self._index = index

    def __len__(self) -> int:
        return len(self.points)

    @property
    def current_index(self) -> int | None:
        return self._index

    @property
    def current(self) -> Point | None:
        return None if self._index is None else self.points[self._index]

    @property
    def next(self) -> Point | None:
        """The point the next mark moves to (None at the end of a fixed plan)."""
        i = 0 if self._index is None else self._index + 1
        if i < len(self.points):
            return self.points[i]
        if self.adhoc:
            return Point(i, f"Point {i + 1}")
        return None

    def mark(self, t_s: float, source: MarkSource) -> Mark:
        """Move to the next point (see module docstring for the end of the plan)."""
        nxt = self.next
        if nxt is None:
            log.info(
                "mark at %.3f s past the end of the plan: staying on point %s", t_s, self._index
            )
        else:
            if nxt.index == len(self.points):
                self.points.append(nxt)
                self.added.append(nxt)
            self._index = nxt.index
        return Mark(t_s=float(t_s), point_index=self._index, source=MarkSource(source))

    def jump(self, index: int, t_s: float, source: MarkSource) -> Mark:
        """Make point ``index`` current (keys 1–9, a click on the plan)."""
        if not 0 <= index < len(self.points):
            raise BadInput(f"point index {index} out of range (plan has {len(self.points)} points)")
        self._index = index
        return Mark(t_s=float(t_s), point_index=index, source=MarkSource(source))

    def levels(self, index: int | None = None) -> HoldLevels:
        """Limits in force at point ``index`` (default: the current one): the point's
        overrides, else the config's; target window only from the point."""
        i = self._index if index is None else index
        p = None if i is None else self.points[i]
        if p is None:
            return HoldLevels(self.limits.warn_n, self.limits.max_n, None)
        return HoldLevels(
            p.warn_n if p.warn_n is not None else self.limits.warn_n,
            p.max_n if p.max_n is not None else self.limits.max_n,
            p.target_n,
        )


def _numbered(points: Iterable[Point]) -> list[Point]:
    """Copies of ``points`` numbered 0, 1, … in order."""
    return [
        Point(i, p.name, p.warn_n, p.max_n, p.target_n, p.target_hold_s)
        for i, p in enumerate(points)
    ]
