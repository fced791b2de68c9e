"""Review of stored sessions: library, timeline, holds, per-point statistics, overlays,
trainee-vs-reference comparison and progress. ``ReviewWindow(store)`` is the entry point."""

from .window import ReviewWindow

__all__ = ["ReviewWindow"]
