"""Print the shared test vectors as JSON (see ``firmware_protocol.vectors``)."""

import sys

from . import dumps

sys.stdout.write(dumps())
