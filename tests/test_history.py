"""The last notifications and where they went: the flusher records each pass's notifications in
one change of one document, a failure then a later success of the same notification as one
entry, the newest fifty kept; in Table Storage the document goes in pieces past one property."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from handlers.alerting.file_sink import FileSink
from handlers.alerting.webhook_sink import WebhookSink
from handlers.flusher import Flusher
from handlers.notify.history import MAX_KEPT, Attempt, NotificationHistory
from handlers.state.groups import Change, Document, MemoryGroupStore
from handlers.state.memory import MemoryDedupeStore
from handlers.state.outbox import MemoryOutbox
from handlers.state.table import TableDedupeStore
from tests.azurite import Azurite, shared_azurite_fixture
from tests.capture_server import CaptureServer
from tests.oncall_storm import storm_models

__all__ = ["shared_azurite_fixture"]

SECRET = "whsec_c2VjcmV0LWZvci10aGUtdGVzdHM="


class CountedStore(MemoryGroupStore):
    """The memory store, counting the changes made to it."""

    def __init__(self) -> None:
        super().__init__()
        self.changes = 0

    def change(self, key: str, change: Change) -> Document | None:
        self.changes += 1
        return super().change(key, change)


def test_a_pass_records_where_its_notifications_went_in_one_change(tmp_path: Path) -> None:
    notifications = storm_models()[:3]
    store = CountedStore()
    history = NotificationHistory(store)
    with CaptureServer() as hook:
        hook.fail(1, status=503)
        outbox = MemoryOutbox()
        outbox.put([(n.id, n.to_json().decode()) for n in notifications])
        flusher = Flusher(
            outbox=outbox, dedupe=MemoryDedupeStore(timedelta(hours=1)),
            sinks=[FileSink(tmp_path / "alerts.jsonl"), WebhookSink(hook.url("/hook"), SECRET)],
            source="/acs-triage", max_attempts=1, history=history, clock=lambda: 1_800_000_000.0,
        )
        flusher.flush()  # the webhook refuses the batch once
        assert store.changes == 1
        first = history.last()
        flusher.flush()  # and takes it now
        assert store.changes == 2
        second = history.last()
    newest_first = [n.id for n in reversed(notifications)]
    assert [e.notification.id for e in first] == newest_first
    assert {(d.destination, d.outcome) for d in first[0].deliveries} == {
        ("file", "sent"), ("webhook", "failed")}
    assert [e.notification.id for e in second] == newest_first  # the same entries, updated
    assert {(d.destination, d.outcome) for d in second[0].deliveries} == {
        ("file", "sent"), ("webhook", "sent")}
    kept = second[0].notification.data
    assert kept.examples is None and kept.advice is None  # the page's summary, not the payload


def test_the_newest_fifty_are_kept() -> None:
    history = NotificationHistory(MemoryGroupStore())
    firing = storm_models()[0]
    for n in range(MAX_KEPT + 10):
        copy = firing.model_copy(update={"id": f"n-{n}"})
        history.record([Attempt(copy, "file", sent=True)], at=1_800_000_000.0 + n)
    kept = [entry.notification.id for entry in history.last()]
    assert kept == [f"n-{n}" for n in range(MAX_KEPT + 9, 9, -1)]


@pytest.mark.azurite
def test_in_table_storage_a_long_history_is_kept_whole(shared_azurite: Azurite) -> None:
    store = TableDedupeStore.from_connection_string(
        shared_azurite.connection_string, "history0", window=timedelta(hours=1),
        purge_interval=None,
    )
    history = NotificationHistory(store.groups("history"))
    firing = storm_models()[0]
    long_meaning = firing.data.model_copy(update={"meaning": "m" * 900})
    for n in range(MAX_KEPT):
        copy = firing.model_copy(update={"id": f"n-{n}", "data": long_meaning})
        history.record([Attempt(copy, "file", sent=True), Attempt(copy, "teams", sent=False)],
                       at=1_800_000_000.0 + n)
    kept = history.last()
    assert len(kept) == MAX_KEPT and kept[0].notification.id == f"n-{MAX_KEPT - 1}"
    assert kept[-1].notification.data.meaning == "m" * 900
