"""``python -m heygen_streaming``: the same as the ``heygen-streaming`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
