"""Where on-call people already are: receivers for PagerDuty, Microsoft Teams (Workflows),
Slack and Alertmanager-compatible tools, and the status page.

Everything here works on :mod:`handlers.oncall.views`, a small typed view of a notification,
a group, a rate alarm and a silence. The receivers are destinations of the flusher: the
composition root (``handlers.runtime.notification_view``) turns each real group notification
(``handlers.notify``) into a view for them, since this room may not import ``notify``.
:mod:`handlers.oncall.adapter` still reads its own notification shape (with rate alarms), for
the status page's source and the receivers' tests, until the page reads the real state too.

May import ``handlers.alerting`` (the sink error, the HTTP poster, the CloudEvent a notification
travels in), ``handlers.settings``, ``handlers.errors``, ``handlers.logs``, ``handlers.masking``;
never ``http``, ``inbound``, ``events``, ``state`` or ``pipeline``.
"""
