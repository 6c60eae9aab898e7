"""The fast path: one typed decode per delivery, and per ordinary event only the work its answer
needs (its dedupe key and a memoised verdict); the careful path for anything odd.

``decode`` reads a body strictly (``msgspec``: a strict envelope per schema, each event's data
decoded by its family's typed record); a body it cannot read that way is left to the careful
path whole. ``reading`` turns a decoded body into what the pipeline triages: events whose verdict
is ordinary are counted without being read further; events that alert, or whose data the typed
records do not cover, are read by the careful path (``handlers.events``), so their outcomes and
alerts are the careful path's own. ``tests/test_fast_path.py`` pins that both paths answer alike.

May import ``handlers.inbound``, ``handlers.events``, ``handlers.alerting``, ``handlers.pipeline``,
``handlers.records`` and ``catalog``; never ``http``, ``state`` or ``runtime``.
"""
