"""Notifications: alerts gathered into groups by their labels, and the Alertmanager-like timers
that decide when a person hears about a group (first, updated, reminded, resolved); rate alarms
over each channel's results (``alarms``); severities (``severity``); silences.

May import ``handlers.alerting`` (the alert record and its labels), ``handlers.state`` (where
groups are kept), ``handlers.settings``, ``handlers.errors``, ``handlers.logs``; never
``http``, ``inbound``, ``events``, ``pipeline`` or ``flusher``.
"""
