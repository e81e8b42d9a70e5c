"""`python -m ui.cli`: the `kriptik` console script."""

import sys

from ui.cli import main

sys.exit(main())
