"""``python -m pipeline.cli``: the ``kiemtin`` command (the queue's background re-score runs so)."""

import sys

from . import main

sys.exit(main())
