"""The bundle's entry point (packaging/pressure-logger.spec): the `pressure-logger`
command line, whose default command is the app."""

import sys

from logger.cli import main

if __name__ == "__main__":
    sys.exit(main())
