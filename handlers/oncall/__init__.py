"""Where on-call people already are: receivers for PagerDuty, Microsoft Teams (Workflows),
Slack and Alertmanager-compatible tools, and the status page.

Everything here works on :mod:`handlers.oncall.views`, a small typed view of a notification,
a group, a rate alarm and a silence; :mod:`handlers.oncall.adapter` is the one place that reads
the notification model (``acs-triage.notification.v1``) into those views.

May import ``handlers.alerting`` (the sink error, the HTTP poster, the CloudEvent a notification
travels in), ``handlers.settings``, ``handlers.errors``, ``handlers.logs``, ``handlers.masking``;
never ``http``, ``inbound``, ``events``, ``state`` or ``pipeline``.
"""
