"""``python -m segscope.schema [--check] [PATH]``: write (or check) the schema's docs page."""

import sys

from . import main

sys.exit(main())
