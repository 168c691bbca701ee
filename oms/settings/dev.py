"""Local development and the demo (`make run`): DEBUG on unless told otherwise."""

import os

os.environ.setdefault("DEBUG", "1")

from .base import *  # noqa: F403
