"""`python -m moodpi`: the same entry point as the `moodpi` console script."""

import sys

from moodpi.cli.main import main

sys.exit(main())
