"""Test setup: the array-API mode scikit-learn's checks need, set before scipy loads."""

import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")
