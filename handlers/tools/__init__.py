"""Development and operator tooling: the local host (``python -m handlers serve``), the CLI
(``replay``, ...) and what ``serve`` prints on the console. Excluded from the deployment package
(``.funcignore``).

May import anything, including ``function_app``; nothing in the app imports this room.
"""
