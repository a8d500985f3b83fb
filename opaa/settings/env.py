"""The one environment reader every settings module uses.

Each variable may also be given as ``NAME_FILE`` pointing at a file holding the value
(Docker/Kubernetes secrets), courtesy of django-environ's ``FileAwareEnv``.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.FileAwareEnv()

# Development and test data (embedded Postgres, Redis, uploaded originals) lives here.
DATA_DIR = Path(env.str("OPAA_DATA_DIR", default=str(BASE_DIR / ".opaa")))
