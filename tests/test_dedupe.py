"""The dedupe stores: in memory (per process) and Azure Table Storage (against Azurite)."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.data.tables import TableClient, TableServiceClient

from handlers.errors import StateUnavailable as DedupeUnavailable
from handlers.runtime import build_dedupe_store
from handlers.settings import load_settings
from handlers.state.memory import MemoryDedupeStore
from handlers.state.table import (
    QUERY_MAX_ROW_KEYS,
    ROW_KEY_MAX_CHARS,
    TRANSACTION_MAX_OPERATIONS,
    TableDedupeStore,
    partition_key,
    row_key,
)
from tests.azurite import Azurite, azurite_fixture, shared_azurite_fixture  # noqa: F401

WINDOW = timedelta(hours=24)

# --- in memory ---------------------------------------------------------------------------


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def test_memory_store_sees_what_it_remembered_and_nothing_else() -> None:
    store = MemoryDedupeStore(WINDOW)
    store.remember(["event:a", "sent:x:file"])
    assert store.seen(["event:a", "event:b", "sent:x:file", "sent:x:webhook"]) == {
        "event:a",
        "sent:x:file",
    }
    assert store.seen([]) == set()


def test_memory_store_forgets_a_key_when_its_window_ends() -> None:
    clock = FakeClock()
    store = MemoryDedupeStore(timedelta(seconds=60), clock=clock)
    store.remember(["event:a"])
    clock.now += 59.9
    assert store.seen(["event:a"]) == {"event:a"}
    clock.now += 0.1
    assert store.seen(["event:a"]) == set()


def test_memory_store_remembering_again_extends_the_window() -> None:
    clock = FakeClock()
    store = MemoryDedupeStore(timedelta(seconds=60), clock=clock)
    store.remember(["event:a", "event:b"])
    clock.now += 50
    store.remember(["event:a"])
    clock.now += 50
    assert store.seen(["event:a", "event:b"]) == {"event:a"}


def test_memory_store_evicts_expired_entries() -> None:
    clock = FakeClock()
    store = MemoryDedupeStore(timedelta(seconds=60), clock=clock)
    store.remember([f"event:{n}" for n in range(1000)])
    clock.now += 61
    store.remember(["event:new"])
    assert len(store) == 1


def test_memory_store_drops_the_oldest_past_its_bound() -> None:
    store = MemoryDedupeStore(WINDOW, max_entries=3)
    for key in ["k1", "k2", "k3", "k4", "k5"]:
        store.remember([key])
    assert len(store) == 3
    assert store.seen(["k1", "k2", "k3", "k4", "k5"]) == {"k3", "k4", "k5"}


def test_memory_store_is_consistent_under_concurrent_threads() -> None:
    store = MemoryDedupeStore(WINDOW, max_entries=100_000)
    keys = [[f"event:{t}:{n}" for n in range(2000)] for t in range(8)]

    def work(mine: list[str]) -> None:
        for start in range(0, len(mine), 10):
            store.remember(mine[start : start + 10])
            store.seen(mine[start : start + 10])

    threads = [threading.Thread(target=work, args=(mine,)) for mine in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [key for mine in keys for key in mine]
    assert store.seen(everything) == set(everything)
    assert len(store) == len(everything)


@pytest.mark.parametrize(
    ("window", "max_entries"), [(timedelta(0), 10), (timedelta(seconds=-1), 10), (WINDOW, 0)]
)
def test_memory_store_refuses_a_senseless_bound(window: timedelta, max_entries: int) -> None:
    with pytest.raises(ValueError):
        MemoryDedupeStore(window, max_entries=max_entries)


# --- row keys ----------------------------------------------------------------------------

AWKWARD_KEYS = [
    "sent:a/b\\c#d?e:webhook",
    "with space, ünïcode and emoji 📞",
    "tab\there\nnewline\x7f\x1f",
    "%41",
    "A",
    "it's 'quoted'",
    "/\\#?",
    "%~" + "0" * 64,
    "x" * 5000,
    "x" * 4999 + "y",
]


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_row_key_has_no_forbidden_character_and_fits(key: str) -> None:
    row = row_key(key)
    assert not set(row) & set("/\\#?")
    assert all(0x20 <= ord(char) < 0x7F for char in row)
    assert len(row) <= ROW_KEY_MAX_CHARS


def test_row_keys_of_different_keys_differ() -> None:
    rows = [row_key(key) for key in AWKWARD_KEYS]
    assert len(set(rows)) == len(rows)


def test_partition_key_is_a_short_stable_hash_prefix() -> None:
    assert partition_key("event:a") == partition_key("event:a")
    assert len({partition_key(f"event:{n}") for n in range(1000)}) == 16


# --- Azure Table Storage (Azurite) -------------------------------------------------------


_table_numbers = itertools.count()


@dataclass
class UtcClock:
    now: datetime = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def new_table_name() -> str:
    return f"dedupe{next(_table_numbers)}"


def table_store(azurite: Azurite, name: str | None = None, **options: Any) -> TableDedupeStore:
    options.setdefault("purge_interval", None)
    return TableDedupeStore.from_connection_string(
        azurite.connection_string, name or new_table_name(), window=WINDOW, **options
    )


def rows_in(azurite: Azurite, table_name: str) -> int:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    return len(list(service.get_table_client(table_name).list_entities()))


@pytest.mark.azurite
def test_table_store_sees_what_it_remembered_and_nothing_else(shared_azurite: Azurite) -> None:
    store = table_store(shared_azurite)
    assert store.seen(["event:a"]) == set()  # the table does not exist yet
    store.remember(["event:a", "sent:x:file", "event:a"])
    assert store.seen(["event:a", "event:b", "sent:x:file", "sent:x:webhook"]) == {
        "event:a",
        "sent:x:file",
    }
    assert store.seen([]) == set()
    store.remember([])


@pytest.mark.azurite
def test_table_store_shares_its_table_between_instances(shared_azurite: Azurite) -> None:
    name = new_table_name()
    first = table_store(shared_azurite, name)
    first.remember(["event:shared"])
    second = table_store(shared_azurite, name)
    assert second.seen(["event:shared"]) == {"event:shared"}


@pytest.mark.azurite
def test_table_store_ignores_rows_past_their_window(shared_azurite: Azurite) -> None:
    clock = UtcClock()
    store = table_store(shared_azurite, now=clock)
    store.remember(["event:old"])
    clock.now += timedelta(hours=23)
    store.remember(["event:young"])
    assert store.seen(["event:old", "event:young"]) == {"event:old", "event:young"}
    clock.now += timedelta(hours=1)
    assert store.seen(["event:old", "event:young"]) == {"event:young"}


@pytest.mark.azurite
def test_table_store_keeps_awkward_keys_apart(shared_azurite: Azurite) -> None:
    store = table_store(shared_azurite)
    store.remember(AWKWARD_KEYS[:-1])
    assert store.seen(AWKWARD_KEYS) == set(AWKWARD_KEYS[:-1])


def keys_in_one_partition(count: int) -> list[str]:
    keys = (f"sent:alert-{n}:webhook" for n in itertools.count())
    return list(itertools.islice((k for k in keys if partition_key(k) == "0"), count))


def spy_on_sdk(monkeypatch: pytest.MonkeyPatch, method: str) -> list[tuple[Any, ...]]:
    """The arguments of every call of azure-data-tables' ``TableClient.<method>`` (the edge of
    the world: what the store asks of Azure), each call still made."""
    calls: list[tuple[Any, ...]] = []
    original = getattr(TableClient, method)

    def spy(client: TableClient, *args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(client, *args, **kwargs)

    monkeypatch.setattr(TableClient, method, spy)
    return calls


@pytest.mark.azurite
def test_table_store_remembers_more_keys_than_one_transaction_holds(
    shared_azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = table_store(shared_azurite)
    crowded = keys_in_one_partition(250)  # one partition: transactions of 100 at most
    spread = [f"event:{n}" for n in range(300)]
    store.seen(["event:create-the-table"])
    transactions = spy_on_sdk(monkeypatch, "submit_transaction")
    store.remember(crowded + spread)
    assert store.seen(crowded + spread + ["event:other"]) == set(crowded + spread)
    assert max(len(call[0]) for call in transactions) == TRANSACTION_MAX_OPERATIONS


@pytest.mark.azurite
def test_table_store_queries_stay_within_fifteen_comparisons(
    shared_azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = table_store(shared_azurite)
    crowded = keys_in_one_partition(40)
    store.remember(crowded)
    queries = spy_on_sdk(monkeypatch, "query_entities")
    assert store.seen(crowded) == set(crowded)
    comparisons = [call[0].count(" eq ") for call in queries]
    assert len(queries) == 3
    assert max(comparisons) == 1 + QUERY_MAX_ROW_KEYS


@pytest.mark.azurite
def test_table_store_purges_expired_rows_only(shared_azurite: Azurite) -> None:
    clock = UtcClock()
    name = new_table_name()
    store = table_store(shared_azurite, name, now=clock)
    store.remember([f"event:old:{n}" for n in range(150)])
    clock.now += WINDOW + timedelta(seconds=1)
    store.remember(["event:fresh"])
    assert store.purge_expired(limit=100) == 100
    assert store.purge_expired() == 50
    assert store.purge_expired() == 0
    assert rows_in(shared_azurite, name) == 1
    assert store.seen(["event:fresh"]) == {"event:fresh"}


@pytest.mark.azurite
def test_table_store_purges_in_the_background_when_due(shared_azurite: Azurite) -> None:
    clock = UtcClock()
    name = new_table_name()
    store = table_store(shared_azurite, name, now=clock, purge_interval=timedelta(0))
    store.remember([f"event:old:{n}" for n in range(30)])
    store.wait_for_purge()
    clock.now += WINDOW * 2
    store.remember(["event:fresh"])  # due: starts a purge
    store.wait_for_purge()
    assert rows_in(shared_azurite, name) == 1


@pytest.mark.azurite
def test_table_outage_is_dedupe_unavailable(azurite: Azurite) -> None:
    store = table_store(azurite)
    store.remember(["event:a"])
    azurite.stop()
    for call in (lambda: store.seen(["event:a"]), lambda: store.remember(["event:b"])):
        with pytest.raises(DedupeUnavailable) as raised:
            call()
        assert "AccountKey" not in str(raised.value)
        assert raised.value.__cause__ is None


# --- building the store from settings ------------------------------------------------------


def test_memory_is_the_default_store() -> None:
    settings = load_settings(callback_jwt_required=False)
    assert isinstance(build_dedupe_store(settings), MemoryDedupeStore)


def test_table_store_uses_the_managed_identity_with_a_service_uri(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[dict[str, Any]] = []

    class Credential:  # stands in for azure.identity, the edge of the world
        def __init__(self, **options: Any) -> None:
            made.append(options)

        def get_token(self, *scopes: str, **_: Any) -> AccessToken:
            return AccessToken("token", 2**31)

    monkeypatch.setattr("azure.identity.DefaultAzureCredential", Credential)
    store = build_dedupe_store(
        load_settings(
            callback_jwt_required=False,
            dedupe_store="table",
            dedupe_table_service_uri="https://account.table.core.windows.net",
            azure_client_id="11111111-2222-3333-4444-555555555555",
        )
    )
    assert isinstance(store, TableDedupeStore)
    assert made == [{"managed_identity_client_id": "11111111-2222-3333-4444-555555555555"}]


@pytest.mark.azurite
def test_table_store_uses_a_connection_string_when_given(shared_azurite: Azurite) -> None:
    store = build_dedupe_store(
        load_settings(
            callback_jwt_required=False,
            dedupe_store="table",
            dedupe_table_connection_string=shared_azurite.connection_string,
            dedupe_table_name="fromsettings",
        )
    )
    store.remember(["event:a"])
    assert store.seen(["event:a"]) == {"event:a"}
