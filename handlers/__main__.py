"""``python -m handlers``: see handlers/cli.py."""

from handlers.cli import main

raise SystemExit(main())
