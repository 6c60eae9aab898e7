"""acs-triage: ACS failures in, explained alerts out.

The flow, room by room (each folder's ``__init__`` says what it holds and what it may import):

    http/      the edge: routes as Request → Response, and the one table of problem answers
    inbound/   the delivery protocol: body → envelopes, handshakes, topic allow-list, callback JWT
    events/    the router and one handler per event family: envelope → outcome (code, subcode)
    (catalog)  the top-level ``catalog`` package: (code, subcode) → meaning, category, advice
    alerting/  policy (which outcomes alert), the alert record, its destinations and retries
    oncall/    where on-call people are: PagerDuty, Teams, Slack, Alertmanager; the status page
    state/     what must be remembered across deliveries and instances: claims, dedupe records,
               the outbox, group documents
    notify/    groups of alerts by label, and when a person hears about them (notifications)
    pipeline   one delivery end to end: read → claim → explain → decide → record in the outbox
    flusher    the outbox to the destinations, oldest first, once per destination and id
    fast/      the fast path: one typed decode per body, a memoised verdict per ordinary event,
               the careful path (inbound, events) for anything odd; the pipeline triages both
    records    what the 200 answer and ``replay`` say about each event
    runtime    the composition root: everything built from the settings, once per process
    tools/     the local host and the CLI: development and operator tooling, never deployed

Shared by all: ``settings`` (the one settings model), ``errors`` (domain errors, no HTTP),
``logs`` (one JSON line per event), ``masking`` (personal data out of everything that leaves),
``deadlines`` (wall-clock limits on every outbound call and on a delivery).
The layering is enforced by ``tests/test_layering.py``; ``docs/architecture.md`` draws it.
"""

__version__ = "0.2.0"
