"""Alerts: the policy (which outcomes alert), the alert record (a CloudEvent), its destinations
(file, signed webhook, Event Grid topic) and the bounded retries around them.

May import ``handlers.events`` (outcomes), ``catalog``, ``handlers.settings``,
``handlers.errors``, ``handlers.logs``, ``handlers.deadlines``; never ``http``, ``inbound``,
``state`` or ``pipeline``.
"""
