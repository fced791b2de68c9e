"""The device side: ports, the reader thread and its handshake, the device clock and the
pure sample timeline."""
