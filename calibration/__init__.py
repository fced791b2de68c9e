"""Calibration and units: raw ADC counts → newtons, per device.

``models`` (Calibration, fit_calibration), ``stability`` (StabilityDetector), ``procedure``
(CalibrationProcedure: guided / auto acceptance of known masses), ``tare`` (Tare),
and ``units`` (Unit, convert_force, pressure_kpa …). Pure: no files, no serial ports, no
Qt, and nothing of ours above it (stored calibrations live in ``logger.store``).
"""
