"""Settings every test runs under."""

import os

# every reservation the tracker keeps group by group is checked against a fresh sum
os.environ.setdefault("QTC_VERIFY_RESERVATIONS", "1")
