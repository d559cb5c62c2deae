"""``python -m producer``: the same as the ``lab-results-producer`` command."""

import sys

from producer.cli import main

sys.exit(main())
