"""A group's notification says how many distinct recipients its alerts went to, never who.

A storm of SMS failures to 37 numbers, some written twice, some spelled without their '+',
batches redelivered, gives recipients=37 exactly; neither a number nor a digest the group keeps
appears in the alert file, the webhook's bodies, the answers or the logs. Past the bound the
count says "at least". A group document that holds every digest it may hold still fits in a
Table Storage row (Azurite).
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from handlers.alerting.file_sink import FileSink
from handlers.alerting.webhook_sink import WebhookSink
from handlers.board import notification_view
from handlers.inbound.envelope import parse_events
from handlers.notify import notifier as notifier_module
from handlers.notify.notification import Notification
from handlers.notify.notifier import MAX_RECIPIENTS, Notifier, Recipients, recipients_of
from handlers.oncall.views import GroupView
from handlers.pipeline import Pipeline
from handlers.state.groups import Document, GroupStore, MemoryGroupStore
from handlers.state.table import TableDedupeStore
from tests.azurite import Azurite, shared_azurite_fixture
from tests.capture_server import CaptureServer
from tests.conftest import LocalHost, RuntimeFactory, read_alerts, read_notifications
from tests.events import call_result
from tests.test_labels import failed_sms
from tests.test_storm import Clock, clocked_runtime

__all__ = ["shared_azurite_fixture"]

WHSEC = "whsec_" + base64.b64encode(bytes(range(32))).decode()
DISTINCT = 37


def number(n: int) -> str:
    return f"+4474001234{n:02d}"  # Three's range: one carrier, so one group


def storm() -> list[list[dict[str, Any]]]:
    """57 failures to 37 numbers in batches of 10: twenty numbers are written to twice, ten of
    those the second time without their '+'."""
    events = [failed_sms(f"sms-{n}", number(n)) for n in range(DISTINCT)]
    events += [
        failed_sms(f"again-{n}", number(n) if n % 2 else number(n).removeprefix("+"))
        for n in range(20)
    ]
    return [events[start : start + 10] for start in range(0, len(events), 10)]


def test_a_storm_to_37_numbers_says_37_recipients_and_leaves_neither_number_nor_digest(
    make_runtime: RuntimeFactory,
    local_host: LocalHost,
    alert_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    with CaptureServer() as hook, caplog.at_level(logging.DEBUG):
        sinks = [FileSink(alert_file), WebhookSink(hook.url("/h"), WHSEC)]
        runtime = clocked_runtime(make_runtime, clock, sinks=sinks, alert_webhook_receives="both")
        answers = []
        for index, batch in enumerate(storm()):
            answers.append(local_host.post("eventgrid", batch))
            if index % 2 == 0:  # Event Grid delivers every other batch twice
                answers.append(local_host.post("eventgrid", batch))
        assert runtime.flusher is not None and runtime.flusher.notifier is not None
        [document] = runtime.flusher.notifier.groups.documents()
        clock.now += 31
        runtime.flush()
        webhook = "".join(request.body.decode() for request in hook.accepted())
    assert {answer.status_code for answer in answers} == {200}
    assert len(read_alerts(alert_file)) == DISTINCT + 20
    [notification] = read_notifications(alert_file)
    data = notification["data"]
    assert (data["total"], data["recipients"], data["recipientsCapped"]) == (57, 37, False)
    view = notification_view(Notification.model_validate(notification))
    assert view is not None and isinstance(view.about, GroupView)
    assert (view.about.recipients, view.about.recipients_text) == (37, "37 distinct")

    digests = Recipients.of(document).each()
    assert len(digests) == 37 and recipients_of(document) == (37, False)
    left = {
        "alert file": alert_file.read_text(),
        "webhook": webhook,
        "answers": "".join(answer.text for answer in answers),
        "logs": caplog.text,
    }
    assert left["webhook"].count('"recipients":37') == 1
    for where, text in left.items():
        for n in range(DISTINCT):
            assert number(n)[1:-4] not in text, (where, n)
        for digest in digests:
            assert digest not in text, (where, digest)
        assert document["recipient_salt"] not in text, where


def test_the_same_recipient_has_another_digest_in_another_group() -> None:
    first, second = Recipients.new(), Recipients.new()
    assert first.digest(number(1)) != second.digest(number(1))
    assert first.digest(number(1)) == first.digest(number(1).removeprefix("+"))
    assert first.digest("Jane.Doe@Contoso.com") == first.digest("jane.doe@contoso.com")


def test_past_the_bound_the_count_says_at_least(
    make_runtime: RuntimeFactory, alert_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notifier_module, "MAX_RECIPIENTS", 5)
    kept = Recipients.new().adding([number(n) for n in range(4)])
    assert (kept.count, kept.capped) == (4, False)
    assert kept.adding([number(0)]) == kept  # a recipient already counted changes nothing
    clock = Clock()
    runtime = clocked_runtime(make_runtime, clock)
    events = [failed_sms(f"sms-{n}", number(n)) for n in range(8)]
    runtime.pipeline.run(parse_events(events), way_in="test")
    clock.now += 31
    runtime.flush()
    [notification] = read_notifications(alert_file)
    data = notification["data"]
    assert (data["total"], data["recipients"], data["recipientsCapped"]) == (8, 5, True)
    view = notification_view(Notification.model_validate(notification))
    assert view is not None and isinstance(view.about, GroupView)
    assert view.about.recipients_text == "at least 5 distinct"


def capped_document(groups: GroupStore, pipeline: Pipeline) -> Document:
    """A group that has counted as many recipients as it may, with a realistic rest (the
    alerts are copies of a real one, each under an id of its own)."""
    event = failed_sms("sms", number(0))
    [triage] = pipeline.run(parse_events([event]), way_in="test").triages
    assert triage.alert is not None
    alerts = [
        triage.alert.model_copy(update={"id": f"alert-{n}"}) for n in range(MAX_RECIPIENTS + 100)
    ]
    recipients = {alert.id: f"+4474{n:08d}" for n, alert in enumerate(alerts)}
    notifier = Notifier(groups=groups, source="/acs-triage", clock=Clock())
    for start in range(0, len(alerts), 500):
        notifier.record(alerts[start : start + 500], recipients)
    [document] = groups.documents()
    return document


def test_a_full_group_document_fits_one_table_property(make_runtime: RuntimeFactory) -> None:
    document = capped_document(MemoryGroupStore(), make_runtime().pipeline)
    assert recipients_of(document) == (MAX_RECIPIENTS, True)
    # A table's string property holds 64 KiB: 32 K UTF-16 characters.
    assert len(json.dumps(document)) < 32 * 1024 * 0.8


@pytest.mark.azurite
def test_a_full_group_document_is_kept_by_table_storage(
    make_runtime: RuntimeFactory, shared_azurite: Azurite
) -> None:
    store = TableDedupeStore.from_connection_string(
        shared_azurite.connection_string, "recipients", window=timedelta(hours=1),
        purge_interval=None,
    )
    try:
        document = capped_document(store.groups(), make_runtime().pipeline)
    finally:
        store.close()
    assert recipients_of(document) == (MAX_RECIPIENTS, True)


def test_a_group_whose_events_name_no_recipient_says_nothing_of_recipients(
    make_runtime: RuntimeFactory, alert_file: Path
) -> None:
    """Call results name no party: "0 distinct recipients" would be a wrong fact, so the
    notification leaves the count out and the views say nothing."""
    clock = Clock()
    runtime = clocked_runtime(make_runtime, clock)
    events = [call_result(f"c{n}", "CallDisconnected", code=503, subcode=560503) for n in range(3)]
    runtime.pipeline.run(parse_events(events), way_in="test")
    clock.now += 31
    runtime.flush()
    [notification] = read_notifications(alert_file)
    assert "recipients" not in notification["data"]
    assert "recipientsCapped" not in notification["data"]
    view = notification_view(Notification.model_validate(notification))
    assert view is not None and isinstance(view.about, GroupView)
    assert view.about.recipients is None
    # An SMS report's words start with its code: the title says it once.
    sms = view.about.model_copy(update={"labels": {"channel": "sms", "code": "5000"},
                                        "meaning": "5000: Message failed to deliver"})
    assert sms.title == "sms 5000: Message failed to deliver"
