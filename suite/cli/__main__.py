"""`python -m suite.cli ...` is `vgsuite ...`."""

import sys

from . import main

sys.exit(main())
