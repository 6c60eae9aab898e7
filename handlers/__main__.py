"""``python -m handlers``: see handlers/tools/cli.py."""

from handlers.tools.cli import main

raise SystemExit(main())
