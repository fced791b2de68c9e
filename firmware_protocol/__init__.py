"""The wire protocol between the pressure sensor and the host (PROTOCOL.md), pure codec,
plus the simulated device.

Importing this package registers the simulator's ``sim://`` URL handler with pyserial, so
``serial.serial_for_url("sim://?scenario=demo&speed=0")`` opens a simulated device.
"""

import serial as _serial

if "firmware_protocol.sim" not in _serial.protocol_handler_packages:
    _serial.protocol_handler_packages.append("firmware_protocol.sim")
