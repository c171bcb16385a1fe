"""``python -m storecore COMMAND ...``: the storescope command line without the GUI."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
