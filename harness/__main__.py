"""``python -m harness KIND``: run one stand-in as a process (see harness.cli)."""

import sys

from harness.cli import main

sys.exit(main())
