"""Simulator scenarios shared by the calibration tests (model level and end to end).

A device whose factory gain is 7.5 % high and whose zero is 6000 counts off: calibrating
with the stacked masses of ``STACKED`` corrects both, so the 30 N hold of ``HOLD`` reads
30 N afterwards.
"""

from __future__ import annotations

TRUE_GAIN = 4000.0
TRUE_ZERO = 120000
DEVICE_UID = "SIM-ACC-0001"
DEVICE = f"""
[device]
uid = "{DEVICE_UID}"
rate_hz = 1000
counts_per_n = {TRUE_GAIN}
offset_counts = {TRUE_ZERO}
factory_counts_per_n = {TRUE_GAIN * 1.075}
factory_offset_counts = {TRUE_ZERO + 6000}
noise_n = 0.1
"""
STACKED = (
    DEVICE
    + '\n[therapist]\ntremor_n = 0.0\n\n[[steps]]\naction = "rest"\nseconds = 2.0\n'
    + "".join(
        f'\n[[steps]]\naction = "load"\nmass_kg = {m}\nseconds = 3.0\n' for m in (0.5, 1.0, 2.0)
    )
    + '\n[[steps]]\naction = "rest"\nseconds = 2.0\n'
)
"""Unloaded 2 s, then 0.5, 1 and 2 kg in total for 3 s each, then unloaded again."""
HOLD = (
    DEVICE
    + """
[therapist]
seed = 3
tremor_n = 0.3

[[steps]]
action = "rest"
seconds = 1.0

[[steps]]
action = "hold"
force_n = 30.0
ramp_s = 1.0
seconds = 10.0
"""
)
"""Rest 1 s, then a 30 N hold (1 s ramp, 10 s) with a little tremor."""
