"""``python -m atmosphere`` is the ``atmosphere`` command."""

import sys

from atmosphere.cli import main

sys.exit(main())
