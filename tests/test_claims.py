"""Claims: an event is claimed atomically before its alerts are sent; only the claimant sends.

Every property is checked on both stores, the one in memory and the Azure table (Azurite), with
a clock the test moves: a claim is won once, a live claim is held against everyone else, a
completed one is a duplicate, a released one can be won again, and a lapsed one (its holder
crashed) is taken over, without the old holder's late release undoing the new claim.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables import TableServiceClient

import handlers.state.table
from handlers.state.memory import MemoryDedupeStore
from handlers.state.store import DedupeStore
from handlers.state.table import TableDedupeStore, partition_key, row_key
from tests.azurite import Azurite, shared_azurite_fixture

__all__ = ["shared_azurite_fixture"]

WINDOW = timedelta(hours=24)
LEASE = timedelta(seconds=60)
_tables = itertools.count()


@dataclass
class Clock:
    """Seconds moved by hand; read as monotonic seconds or as a UTC datetime."""

    offset: float = 0.0
    start: datetime = datetime(2026, 12, 1, tzinfo=UTC)

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def monotonic(self) -> float:
        return 1000.0 + self.offset

    def utc(self) -> datetime:
        return self.start + timedelta(seconds=self.offset)


StoreFactory = Callable[[], DedupeStore]


@pytest.fixture(params=["memory", "table"])
def stores(request: pytest.FixtureRequest) -> Iterator[tuple[Clock, StoreFactory]]:
    """A clock and a factory of stores that share their state (two instances of the app)."""
    clock = Clock()
    if request.param == "memory":
        shared = MemoryDedupeStore(WINDOW, clock=clock.monotonic)
        yield clock, lambda: shared
        return
    azurite: Azurite = request.getfixturevalue("shared_azurite")
    name = f"claims{next(_tables)}"
    made: list[TableDedupeStore] = []

    def make() -> DedupeStore:
        store = TableDedupeStore.from_connection_string(
            azurite.connection_string, name, window=WINDOW, now=clock.utc, purge_interval=None
        )
        made.append(store)
        return store

    yield clock, make
    for store in made:
        store.close()


def test_a_key_is_won_once_then_held_then_done(stores: tuple[Clock, StoreFactory]) -> None:
    _, make = stores
    first, second = make(), make()
    mine = first.claim(["event:a", "event:b", "event:a"], LEASE)
    assert mine.won == {"event:a", "event:b"} and not mine.held and not mine.done
    theirs = second.claim(["event:a", "event:b", "event:c"], LEASE)
    assert theirs.won == {"event:c"} and theirs.held == {"event:a", "event:b"}
    first.complete(mine)
    again = second.claim(["event:a", "event:b"], LEASE)
    assert again.done == {"event:a", "event:b"} and not again.won and not again.held
    assert second.seen(["event:a", "event:c"]) == {"event:a"}  # c is claimed, not handled


def test_a_released_claim_can_be_won_again(stores: tuple[Clock, StoreFactory]) -> None:
    _, make = stores
    first, second = make(), make()
    failed = first.claim(["event:a"], LEASE)
    first.release(failed)
    retried = second.claim(["event:a"], LEASE)
    assert retried.won == {"event:a"}


def test_a_lapsed_claim_is_taken_over_and_its_old_holder_cannot_undo_that(
    stores: tuple[Clock, StoreFactory],
) -> None:
    clock, make = stores
    crashed, survivor, third = make(), make(), make()
    abandoned = crashed.claim(["event:a"], LEASE)
    clock.advance(LEASE.total_seconds() - 1)
    assert survivor.claim(["event:a"], LEASE).held == {"event:a"}
    clock.advance(1)
    taken = survivor.claim(["event:a"], LEASE)
    assert taken.won == {"event:a"}
    crashed.release(abandoned)  # the old holder wakes up late: the new claim stands
    assert third.claim(["event:a"], LEASE).held == {"event:a"}
    survivor.complete(taken)
    assert third.claim(["event:a"], LEASE).done == {"event:a"}


def test_a_handled_key_is_claimable_again_after_the_window(
    stores: tuple[Clock, StoreFactory],
) -> None:
    clock, make = stores
    store = make()
    store.complete(store.claim(["event:a"], LEASE))
    clock.advance(WINDOW.total_seconds())
    assert store.claim(["event:a"], LEASE).won == {"event:a"}


def test_concurrent_claims_of_the_same_keys_win_each_key_exactly_once(
    stores: tuple[Clock, StoreFactory], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Atomicity, not speed, is under test: a busy machine must not turn a slow emulator into a
    # timed-out claim (whose rows would then be held for a lease and look lost).
    monkeypatch.setattr(handlers.state.table, "STORE_CALL_SECONDS", 60.0)
    _, make = stores
    keys = [f"event:{n}" for n in range(120)]
    contenders = [make() for _ in range(6)]
    start = threading.Barrier(len(contenders))
    won: list[frozenset[str]] = [frozenset()] * len(contenders)

    errors: list[BaseException] = []

    def contend(index: int) -> None:
        start.wait()
        try:
            won[index] = contenders[index].claim(keys, LEASE).won
        except Exception as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(len(contenders))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    every_win = [key for keys_won in won for key in keys_won]
    assert sorted(every_win) == sorted(keys)  # each key won once, none lost


@pytest.mark.azurite
def test_rows_remembered_before_claims_existed_count_as_handled(shared_azurite: Azurite) -> None:
    name = f"claims{next(_tables)}"
    service = TableServiceClient.from_connection_string(shared_azurite.connection_string)
    table = service.create_table_if_not_exists(name)
    store = TableDedupeStore.from_connection_string(
        shared_azurite.connection_string, name, window=WINDOW, purge_interval=None
    )
    table.create_entity(
        {
            "PartitionKey": partition_key("event:old"),
            "RowKey": row_key("event:old"),
            "ExpiresAt": datetime.now(UTC) + WINDOW,
        }
    )
    assert store.claim(["event:old"], LEASE).done == {"event:old"}
