"""Dialogs of the live window: session details, settings, calibration wizard."""
