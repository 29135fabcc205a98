"""``python -m alexnet.bench``: see :mod:`alexnet.bench`."""
import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
