"""The apply floor: `python bench/create_floor.py N` creates credentials N..N+999, 8 at a time, and nothing else.

The same requests `keyform apply` sends for 1,000 new credentials, from a plain script with one
keep-alive session per worker: what the server needs, with no planning, journal or sink.
"""

import os
import sys

from seed import create_credentials

n = int(sys.argv[1])
create_credentials(os.environ["KEYFORM_URL"], os.environ["KEYFORM_TOKEN"], range(n, n + 1000), workers=8)
