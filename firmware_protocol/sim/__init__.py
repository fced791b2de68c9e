"""The simulated device: model (physics), scenarios, interface (bytes), transports.

``protocol_sim`` is the pyserial URL handler for ``sim://`` (registered by
``import firmware_protocol``); ``server`` serves the same device on a pty or TCP port.
"""
