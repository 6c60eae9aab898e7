"""``python -m catalog``: see :mod:`catalog.cli`."""

from catalog.cli import main

raise SystemExit(main())
