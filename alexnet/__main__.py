"""``python -m alexnet``: see :mod:`alexnet.cli`."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
