"""``python -m carbonledger``: the same as the ``carbonledger`` command."""

from __future__ import annotations

import sys

from carbonledger.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
