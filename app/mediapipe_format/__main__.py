"""Entry point for ``python -m app.mediapipe_format``."""

import sys

from .cli import main

sys.exit(main())
