"""Widgets of the live window; each draws from plain numbers, records and numpy arrays."""
