"""The status page: one HTML document, no script, no build step, readable on a phone.

What is firing (labels, counts, first and last seen, severity), the active rate alarms with a
small chart of the last hour's failure ratio (inline SVG), the silences with a form to add one
and a button to expire each, and the last notifications with where they went. Every value is
escaped; every value is already masked by the views.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from html import escape

from handlers.oncall.views import (
    AlarmView,
    GroupView,
    NotificationView,
    SilenceView,
    StatusView,
    silence_command,
)
from handlers.oncall.wording import label_text, when

CHART_WIDTH = 300
CHART_HEIGHT = 60

STYLE = """
:root { color-scheme: light dark; --critical: #c62828; --warning: #ef6c00; --info: #1565c0;
  --ok: #2e7d32; --muted: #6b7280; --line: #d1d5db; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
  padding: 12px; max-width: 960px; margin-inline: auto; }
h1 { font-size: 1.3rem; margin: 0 0 4px; }
h2 { font-size: 1.1rem; margin: 20px 0 8px; border-bottom: 1px solid var(--line); }
.muted { color: var(--muted); font-size: .85rem; }
.card { border: 1px solid var(--line); border-left: 6px solid var(--info); border-radius: 6px;
  padding: 8px 10px; margin: 8px 0; overflow-wrap: anywhere; }
.card.critical { border-left-color: var(--critical); }
.card.warning { border-left-color: var(--warning); }
.card.silenced { opacity: .65; border-left-style: dashed; }
.badge { display: inline-block; font-size: .75rem; font-weight: 600; padding: 1px 6px;
  border-radius: 9px; color: #fff; background: var(--info); margin-right: 4px; }
.badge.critical { background: var(--critical); } .badge.warning { background: var(--warning); }
.badge.silenced { background: var(--muted); } .badge.sent { background: var(--ok); }
.badge.failed { background: var(--critical); } .badge.pending { background: var(--warning); }
.labels code { display: inline-block; font-size: .8rem; background: rgba(127,127,127,.15);
  border-radius: 4px; padding: 0 4px; margin: 2px 2px 0 0; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0 10px; margin: 6px 0; }
dt { color: var(--muted); } dd { margin: 0; }
svg { width: 100%; max-width: 300px; height: auto; display: block; }
form { display: grid; gap: 6px; }
label { display: grid; gap: 2px; font-size: .9rem; }
input, textarea, button { font: inherit; padding: 6px; width: 100%; }
button { width: auto; cursor: pointer; }
.message { padding: 8px; border-radius: 6px; background: rgba(198,40,40,.12); }
.message.ok { background: rgba(46,125,50,.12); }
table { border-collapse: collapse; width: 100%; font-size: .85rem; }
td, th { text-align: left; padding: 4px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
td { overflow-wrap: anywhere; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; font-size: .8rem; margin: 4px 0; }
@media (max-width: 600px) {
  table, tbody, tr, td { display: block; } thead { display: none; }
  tr { border-bottom: 1px solid var(--line); padding: 6px 0; } td { border: 0; padding: 1px 0; }
}
"""


def render_status_page(view: StatusView, *, message: str | None = None, ok: bool = True) -> str:
    """The whole page for one moment of the notification state."""
    firing = [g for g in view.groups if g.status == "firing"]
    alarms = [a for a in view.alarms if a.status == "firing"]
    active = [s for s in view.silences if s.ends_at > view.now]
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>acs-triage status</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>acs-triage status</h1>",
        f'<p class="muted" id="now">as of {escape(when(view.now))} · '
        f"{len(firing)} firing, {len(alarms)} alarms, {len(active)} silences</p>",
    ]
    if message:
        parts.append(f'<p class="message{" ok" if ok else ""}" role="status">{escape(message)}</p>')
    by_id = {silence.id: silence for silence in view.silences}
    parts += _section("Firing groups", "groups", (_group(g, view.now, by_id) for g in firing),
                      "Nothing is firing.")
    parts += _section("Rate alarms", "alarms", (_alarm(a) for a in alarms), "No alarm is active.")
    parts += _section("Silences", "silences", (_silence(s, view.now) for s in active),
                      "No silence is active.")
    parts.append(_silence_form())
    parts += _notifications(view.notifications)
    parts.append("</body></html>")
    return "\n".join(parts)


def _section(title: str, anchor: str, items: Iterable[str], empty: str) -> list[str]:
    rendered = list(items)
    body = rendered or [f'<p class="muted">{escape(empty)}</p>']
    return [f'<h2 id="{anchor}">{escape(title)}</h2>', *body]


def _labels(labels: dict[str, str]) -> str:
    codes = "".join(
        f"<code>{escape(name)}={escape(value)}</code>" for name, value in sorted(labels.items())
    )
    return f'<div class="labels">{codes}</div>'


def _badge(text: str, kind: str) -> str:
    return f'<span class="badge {escape(kind)}">{escape(text)}</span>'


def _group(group: GroupView, now: datetime, silences: dict[str, SilenceView]) -> str:
    silenced = group.silenced_by is not None
    badges = _badge(group.severity.value, group.severity.value)
    if silenced:
        badges += _badge("silenced", "silenced")
    classes = f"card {group.severity.value}{' silenced' if silenced else ''}"
    advice = f"<dt>Advice</dt><dd>{escape(group.advice)}</dd>" if group.advice else ""
    recipients = (
        f"<dt>Recipients</dt><dd>{escape(group.recipients_text)}</dd>"
        if group.recipients is not None
        else ""
    )
    return (
        f'<article class="{classes}" id="{escape(group.fingerprint)}" data-group="'
        f'{escape(group.fingerprint)}" data-silenced="{str(silenced).lower()}">'
        f"<div>{badges}<strong>{escape(group.title)}</strong></div>"
        f"{_labels(group.labels)}<dl>"
        f"<dt>Alerts</dt><dd>{group.alerts_total} ({group.alerts_new} new)</dd>"
        f"{recipients}"
        f"<dt>First seen</dt><dd>{escape(when(group.first_seen))}</dd>"
        f"<dt>Last seen</dt><dd>{escape(when(group.last_seen))} "
        f"({escape(_ago(group.last_seen, now))})</dd>{advice}"
        f"{_muted_by(group.silenced_by, silences)}</dl>"
        f'<pre class="muted">{escape(silence_command(group.labels))}</pre></article>'
    )


def _muted_by(silence_id: str | None, silences: dict[str, SilenceView]) -> str:
    """Which silence mutes the group: its comment, author and end, linked to its card."""
    silence = silences.get(silence_id) if silence_id else None
    if silence is None:
        return ""
    return (
        f'<dt>Silenced by</dt><dd><a href="#silence-{escape(silence.id)}">'
        f"{escape(silence.comment)}</a> ({escape(silence.created_by)}, until "
        f"{escape(when(silence.ends_at))})</dd>"
    )


def _ago(moment: datetime, now: datetime) -> str:
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def ratio_chart(alarm: AlarmView) -> str:
    """The failure ratio over the last hour as a polyline, with the two thresholds dashed.

    The vertical scale ends a little above the highest of the ratios and the critical
    threshold, so a 30 % storm is not a flat line at the bottom of a 0–100 % chart."""
    points = alarm.history
    top = max([alarm.critical_ratio, *(p.ratio for p in points)]) * 1.15 or 1.0

    def y(ratio: float) -> float:
        return round(CHART_HEIGHT - ratio / top * CHART_HEIGHT, 1)

    line = ""
    if len(points) >= 2:
        start, end = points[0].at, points[-1].at
        span = (end - start).total_seconds() or 1.0
        coords = " ".join(
            f"{round((p.at - start).total_seconds() / span * CHART_WIDTH, 1)},{y(p.ratio)}"
            for p in points
        )
        line = f'<polyline points="{coords}" fill="none" stroke="currentColor" stroke-width="2"/>'
    thresholds = "".join(
        f'<line x1="0" x2="{CHART_WIDTH}" y1="{y(r)}" y2="{y(r)}" stroke="{color}" '
        f'stroke-dasharray="4 3"/>'
        for r, color in ((alarm.warning_ratio, "#ef6c00"), (alarm.critical_ratio, "#c62828"))
    )
    label = f"failure ratio over the last hour, now {alarm.ratio:.0%}"
    return (
        f'<svg viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" role="img" aria-label="{label}" '
        f'data-points="{len(points)}"><title>{label}</title>{thresholds}{line}</svg>'
    )


def _alarm(alarm: AlarmView) -> str:
    level = alarm.level or "info"
    return (
        f'<article class="card {escape(level)}" id="{escape(alarm.fingerprint)}" '
        f'data-alarm="{escape(alarm.fingerprint)}">'
        f"<div>{_badge(level, level)}<strong>{escape(alarm.title)}</strong></div>"
        f"{ratio_chart(alarm)}<dl>"
        f"<dt>Window</dt><dd>{alarm.window_seconds // 60} min, at least {alarm.min_volume} "
        f"results</dd><dt>Thresholds</dt><dd>warning {alarm.warning_ratio:.0%}, critical "
        f"{alarm.critical_ratio:.0%}</dd><dt>Since</dt><dd>{escape(when(alarm.since))}</dd>"
        f"</dl></article>"
    )


def _silence(silence: SilenceView, now: datetime) -> str:
    matchers = "".join(f"<code>{escape(str(m))}</code>" for m in silence.matchers)
    state = "active" if silence.is_active(now) else "pending"
    return (
        f'<article class="card" id="silence-{escape(silence.id)}" '
        f'data-silence="{escape(silence.id)}">'
        f"<div>{_badge(state, 'silenced')}<strong>{escape(silence.comment)}</strong></div>"
        f'<div class="labels">{matchers}</div><dl>'
        f"<dt>By</dt><dd>{escape(silence.created_by)}</dd>"
        f"<dt>Since</dt><dd>{escape(when(silence.starts_at))}</dd>"
        f"<dt>Until</dt><dd>{escape(when(silence.ends_at))}</dd></dl>"
        '<form method="post"><input type="hidden" name="action" value="expire">'
        f'<input type="hidden" name="silence_id" value="{escape(silence.id)}">'
        '<button type="submit">Expire now</button></form></article>'
    )


def _silence_form() -> str:
    # No action attribute: the form posts to the page's own address, function key included.
    return (
        '<h2 id="new-silence">Add a silence</h2>'
        '<form method="post" id="silence-form"><input type="hidden" name="action" value="add">'
        '<label>Matchers <input name="matchers" required placeholder="code=503, subcode=560503">'
        "</label>"
        '<label>For <input name="duration" required value="2h" placeholder="30m, 2h, 1d">'
        "</label>"
        '<label>Author <input name="created_by" required placeholder="your name"></label>'
        '<label>Comment <textarea name="comment" required rows="2" '
        'placeholder="known carrier incident"></textarea></label>'
        '<button type="submit">Add silence</button></form>'
    )


def _notifications(notifications: tuple[NotificationView, ...]) -> list[str]:
    rows = []
    for notification in notifications:
        about = notification.about
        went = " ".join(
            _badge(f"{d.destination} {d.outcome}", d.outcome) for d in notification.deliveries
        ) or '<span class="muted">not sent yet</span>'
        rows.append(
            f'<tr data-notification="{escape(notification.id)}">'
            f"<td>{escape(when(notification.created_at))}</td>"
            f"<td>{_badge(about.status, 'critical' if about.status == 'firing' else 'sent')}"
            f"{escape(about.title)}<br><span class=\"muted\">{escape(label_text(about.labels))}"
            f"</span></td><td>{went}</td></tr>"
        )
    if not rows:
        return ['<h2 id="notifications">Last notifications</h2>',
                '<p class="muted">No notification yet.</p>']
    return [
        '<h2 id="notifications">Last notifications</h2>',
        "<table><thead><tr><th>When</th><th>What</th><th>Where it went</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>",
    ]
