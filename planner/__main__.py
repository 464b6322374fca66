"""``python -m planner`` runs the command line."""

import sys

from planner.cli.main import main

sys.exit(main())
