"""The HTTP edge: routes as plain Request → Response functions, and the one table that maps
domain errors to statuses, problem types and headers.

May import every other room of ``handlers``; nothing outside ``function_app.py`` and ``tools``
imports this room. It never imports ``azure.functions`` (``function_app.py`` translates).
"""
