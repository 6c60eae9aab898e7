"""Development and operator tooling: the local host (``python -m handlers serve``) and the CLI
(``replay``, ...). Excluded from the deployment package (``.funcignore``).

May import anything, including ``function_app``; nothing in the app imports this room.
"""
