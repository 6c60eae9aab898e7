"""Where on-call people already are: receivers for PagerDuty, Microsoft Teams (Workflows),
Slack and Alertmanager-compatible tools, and the status page.

Everything here works on :mod:`handlers.oncall.views`, a small typed view of a notification
about a group, a rate alarm or a failing destination, and of a silence. This room never reads
a notification itself: :mod:`handlers.board` (which may import ``notify``, as this room may
not) turns each real notification into a view, hands it to the receivers as destinations of
the flusher, and is the status page's source.

May import ``handlers.alerting`` (the sink error, the HTTP poster, the CloudEvent a notification
travels in), ``handlers.settings``, ``handlers.errors``, ``handlers.logs``, ``handlers.masking``;
never ``http``, ``inbound``, ``events``, ``state`` or ``pipeline``.
"""
