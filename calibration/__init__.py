"""Calibration and units: raw ADC counts → newtons, per device.

``models`` (Calibration, fit_calibration), ``stability`` (StabilityDetector), ``procedure``
(CalibrationProcedure: guided / auto acceptance of known masses), ``tare`` (Tare),
``units`` (Unit, convert_force, pressure_kpa …) and ``store`` (CalibrationStore, the
``calibrations`` table in the session library). Pure except ``store`` (sqlite3 only);
no serial ports, no Qt.
"""
