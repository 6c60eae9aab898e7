"""The dedupe store in Azure Table Storage: shared by every instance of the app."""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from handlers.deadlines import (
    DeadlinePassed,
    call_deadline,
    cut_off_at,
    deadline_transport,
    in_this_context,
)
from handlers.errors import StateUnavailable
from handlers.logs import log_event
from handlers.state.groups import Change, Document
from handlers.state.outbox import OutboxEntry, sequence_for
from handlers.state.store import Claim, new_claim_token

if TYPE_CHECKING:
    from azure.data.tables import TableClient, TableServiceClient

T = TypeVar("T")
R = TypeVar("R")

# One hex digit of the key's SHA-256: 16 partitions spread the load (each partition serves about
# 2,000 entities/s) while keeping enough keys per partition for remember's transactions.
PARTITION_HEX_DIGITS = 1
TRANSACTION_MAX_OPERATIONS = 100  # Table Storage: at most 100 operations per transaction
# A $filter holds at most 15 comparisons: one PartitionKey and 14 RowKeys.
QUERY_MAX_ROW_KEYS = 14
ROW_KEY_MAX_CHARS = 200  # far below the 1 KiB limit, so 14 of them fit a request URL
_ROW_KEY_SAFE = ":@-._~!$&'()*+,;="  # never / \ # ? %, never a control character
CLIENT_OPTIONS: dict[str, Any] = {
    # Short timeouts and one quick retry: a delivery must be answered within Event Grid's 30 s.
    "retry_total": 1,
    "retry_backoff_factor": 0.2,
    "connection_timeout": 2,
    "read_timeout": 5,
}
# Wall time for one store call, retry included, whatever the service does (and never past the
# delivery's own deadline).
STORE_CALL_SECONDS = 6.0


def partition_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:PARTITION_HEX_DIGITS]


def row_key(key: str) -> str:
    """The key made safe for a RowKey: percent-encoded, and hashed past a length.

    Percent-encoding never writes ``%~``, so the ``%~<sha256>`` tail of a long key cannot collide
    with a short key.
    """
    safe = quote(key, safe=_ROW_KEY_SAFE)
    if len(safe) <= ROW_KEY_MAX_CHARS:
        return safe
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return safe[: ROW_KEY_MAX_CHARS - 66] + "%~" + digest


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# A row's ``State``: a live claim, or handled. Rows written before claims existed have no State
# and count as handled.
CLAIMED = "claimed"
DONE = "done"


class TableDedupeStore:
    """Shared store in an Azure table: one entity per key, with its ``ExpiresAt``.

    PartitionKey is a hash prefix of the key, RowKey the key made safe (:func:`row_key`). ``seen``
    ignores expired rows; ``remember`` upserts in per-partition transactions of at most 100.

    A claim is Table Storage's insert-if-absent: the first caller to insert a key's row wins it
    (a second insert is answered 409 Conflict). The row says ``State=claimed``, who holds it and,
    in ``ExpiresAt``, when the lease ends; a lapsed claim is taken over by a replace conditional
    on the row's ETag (412 for every caller but one). Completing upserts ``State=done`` for the
    window; releasing deletes the row if it is still the one this caller wrote.
    The table is created on first use when missing. Expired rows are deleted lazily: at most
    every ``purge_interval``, a background purge deletes up to ``purge_limit`` of them (sooner
    again when it found that many, so a busy table still shrinks).
    """

    def __init__(
        self,
        service: TableServiceClient,
        table_name: str,
        *,
        window: timedelta,
        purge_interval: timedelta | None = timedelta(minutes=5),
        purge_limit: int = 5_000,
        now: Callable[[], datetime] = _utcnow,
        max_workers: int = 8,
    ) -> None:
        if window <= timedelta(0):
            raise ValueError("the dedupe window must be positive")
        self._service = service
        self._table: TableClient = service.get_table_client(table_name)
        self._table_name = table_name
        self._window = window
        self._now = now
        self._purge_interval = purge_interval
        self._purge_limit = purge_limit
        # Instances started together should not all purge together.
        first_purge = random.uniform(0, purge_interval.total_seconds()) if purge_interval else 0
        self._next_purge = time.monotonic() + first_purge
        self._purge_thread: threading.Thread | None = None
        self._purge_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="dedupe")

    @classmethod
    def from_connection_string(
        cls, connection_string: str, table_name: str, *, window: timedelta, **options: Any
    ) -> TableDedupeStore:
        """Account key auth, for Azurite and local runs."""
        from azure.data.tables import TableServiceClient

        service = TableServiceClient.from_connection_string(
            connection_string, transport=deadline_transport(), **CLIENT_OPTIONS
        )
        return cls(service, table_name, window=window, **options)

    @classmethod
    def from_service_uri(
        cls,
        service_uri: str,
        table_name: str,
        *,
        window: timedelta,
        client_id: str | None,
        **options: Any,
    ) -> TableDedupeStore:
        """Microsoft Entra ID auth: the app's managed identity in Azure."""
        from azure.data.tables import TableServiceClient
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential(managed_identity_client_id=client_id or None)
        service = TableServiceClient(
            endpoint=service_uri,
            credential=credential,
            transport=deadline_transport(),
            **CLIENT_OPTIONS,
        )
        return cls(service, table_name, window=window, **options)

    # --- the protocol ----------------------------------------------------------------------

    def seen(self, keys: Sequence[str]) -> set[str]:
        by_row = {row_key(key): key for key in dict.fromkeys(keys)}
        partitions = _grouped(by_row, lambda row: partition_key(by_row[row]))
        queries = [
            (partition, rows)
            for partition, all_rows in partitions.items()
            for rows in _chunks(all_rows, QUERY_MAX_ROW_KEYS)
        ]
        now = self._now()
        found = self._run(self._live_rows, queries, now=now)
        return {by_row[row] for rows in found for row in rows}

    def remember(self, keys: Sequence[str]) -> None:
        expires = self._now() + self._window
        entities = [
            {
                "PartitionKey": partition_key(key),
                "RowKey": row_key(key),
                "State": DONE,
                "ExpiresAt": expires,
            }
            for key in dict.fromkeys(keys)
        ]
        partitions = _grouped(entities, lambda entity: str(entity["PartitionKey"]))
        batches = [
            batch
            for rows in partitions.values()
            for batch in _chunks(rows, TRANSACTION_MAX_OPERATIONS)
        ]
        self._run(self._upsert, batches)
        self._maybe_purge()

    def claim(self, keys: Sequence[str], lease: timedelta) -> Claim:
        """Insert a claim row per key, one transaction per partition: for the fresh events of
        a delivery (nearly all of them) that is the whole cost. Only the rows of a transaction
        that failed (one of them exists) are read, to tell done from held from lapsed."""
        token = new_claim_token()
        now = self._now()
        claimed = {"State": CLAIMED, "Holder": token, "ExpiresAt": now + lease}
        handles, contested = self._insert_claims(list(dict.fromkeys(keys)), claimed)
        done, held, lapsed, absent = self._classify(contested, now)
        handles |= self._insert_each(absent, claimed)
        handles |= self._take_over_claims(lapsed, claimed)
        held |= {key for key, _ in lapsed if key not in handles}
        held |= {key for key in absent if key not in handles}
        return Claim(token, frozenset(handles), frozenset(done), frozenset(held), handles)

    def _classify(
        self, keys: Sequence[str], now: datetime
    ) -> tuple[set[str], set[str], list[tuple[str, str]], list[str]]:
        """Existing rows of ``keys``: done, held by a live claim, lapsed (with ETag), absent."""
        by_row = {row_key(key): key for key in keys}
        rows = {row["RowKey"]: row for row in self._rows(by_row)} if by_row else {}
        done: set[str] = set()
        held: set[str] = set()
        lapsed: list[tuple[str, str]] = []
        absent: list[str] = []
        for row, key in by_row.items():
            entity = rows.get(row)
            if entity is None:
                absent.append(key)  # gone since its transaction failed (released, purged)
            elif entity["ExpiresAt"] <= now:
                lapsed.append((key, entity.metadata["etag"]))
            elif entity.get("State", DONE) == CLAIMED:
                held.add(key)
            else:
                done.add(key)
        return done, held, lapsed, absent

    def complete(self, claim: Claim) -> None:
        self.remember(sorted(claim.won))

    def release(self, claim: Claim) -> None:
        self._run(self._delete_claim, sorted(claim.handles.items()))

    # --- housekeeping ----------------------------------------------------------------------

    def purge_expired(self, *, limit: int | None = None) -> int:
        """Delete up to ``limit`` expired rows; returns how many went."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceNotFoundError
        from azure.data.tables import TableTransactionError

        limit = self._purge_limit if limit is None else limit
        expired = self._table.query_entities(
            "ExpiresAt lt @now",
            parameters={"now": self._now()},
            select=["PartitionKey", "RowKey"],
            results_per_page=min(limit, 1000),
        )
        by_partition: dict[str, list[Any]] = defaultdict(list)
        try:
            for count, entity in enumerate(expired, start=1):
                by_partition[entity["PartitionKey"]].append(entity)
                if count >= limit:
                    break
        except ResourceNotFoundError:
            return 0  # no table yet, nothing to purge
        deleted = 0
        for rows in by_partition.values():
            for batch in _chunks(rows, TRANSACTION_MAX_OPERATIONS):
                # The etag guards a row that was remembered again since the query.
                operations: list[Any] = [
                    ("delete", row, {"etag": row.metadata["etag"],
                                     "match_condition": MatchConditions.IfNotModified})
                    for row in batch
                ]
                try:
                    self._table.submit_transaction(operations)
                except TableTransactionError:
                    continue  # a row changed or went meanwhile: the next purge sees it again
                deleted += len(batch)
        return deleted

    def wait_for_purge(self, timeout: float | None = None) -> None:
        """Wait for a background purge in progress (tests; orderly shutdown)."""
        thread = self._purge_thread
        if thread is not None:
            thread.join(timeout)

    def outbox(self) -> TableOutbox:
        """The outbox in the same table, reached through the same client and limits."""
        return TableOutbox(self)

    def groups(self, partition: str = "groups") -> TableGroupStore:
        """Documents of one kind (groups, silences) in the same table."""
        return TableGroupStore(self, partition)

    def close(self) -> None:
        self.wait_for_purge()
        self._pool.shutdown(wait=True)
        self._service.close()

    # --- internals -------------------------------------------------------------------------

    def _live_rows(self, query: tuple[str, Sequence[str]], *, now: datetime) -> list[str]:
        return [
            entity["RowKey"]
            for entity in self._query_rows(query)
            if entity["ExpiresAt"] > now and entity.get("State", DONE) == DONE
        ]

    def _query_rows(self, query: tuple[str, Sequence[str]], **_: Any) -> list[Any]:
        partition, rows = query
        names = {f"r{index}": row for index, row in enumerate(rows)}
        row_filter = " or ".join(f"RowKey eq @{name}" for name in names)
        entities = self._table.query_entities(
            # The SDK substitutes @names between spaces only: hence "( ... )".
            f"PartitionKey eq @pk and ( {row_filter} )",
            parameters={"pk": partition, **names},
            select=["RowKey", "ExpiresAt", "State"],
        )
        return [entity for entity in entities if isinstance(entity.get("ExpiresAt"), datetime)]

    def _rows(self, by_row: dict[str, str]) -> list[Any]:
        """The existing rows of ``by_row`` (RowKey → key), with State, ExpiresAt and ETag."""
        partitions = _grouped(by_row, lambda row: partition_key(by_row[row]))
        queries = [
            (partition, chunk)
            for partition, all_rows in partitions.items()
            for chunk in _chunks(all_rows, QUERY_MAX_ROW_KEYS)
        ]
        return [entity for found in self._run(self._query_rows, queries) for entity in found]

    def _insert_claims(
        self, keys: Sequence[str], claimed: dict[str, Any]
    ) -> tuple[dict[str, str], list[str]]:
        """Insert a claim row per key, one transaction per partition and 100 rows: the keys
        won, with their ETags, and the keys of the transactions that failed whole because one
        of their rows exists (another caller's claim, or an event handled before)."""
        entities = [
            {"PartitionKey": partition_key(key), "RowKey": row_key(key), **claimed}
            for key in keys
        ]
        key_of = {entity["RowKey"]: key for entity, key in zip(entities, keys, strict=True)}
        batches = [
            batch
            for rows in _grouped(entities, lambda e: str(e["PartitionKey"])).values()
            for batch in _chunks(rows, TRANSACTION_MAX_OPERATIONS)
        ]
        won: dict[str, str] = {}
        contested: list[str] = []
        for batch, etags in zip(batches, self._run(self._insert_batch, batches), strict=True):
            if etags is None:
                contested.extend(key_of[entity["RowKey"]] for entity in batch)
            else:
                won.update({key_of[row]: etag for row, etag in etags.items()})
        return won, contested

    def _insert_each(self, keys: Sequence[str], claimed: dict[str, Any]) -> dict[str, str]:
        """Insert the claim rows of ``keys`` one by one, each a call of its own; the keys won."""
        entities = [
            {"PartitionKey": partition_key(key), "RowKey": row_key(key), **claimed}
            for key in keys
        ]
        etags = self._run(self._insert_one, entities)
        return {key: etag for key, etag in zip(keys, etags, strict=True) if etag is not None}

    def _insert_batch(self, batch: Sequence[dict[str, Any]], **_: Any) -> dict[str, str] | None:
        """The rows' ETags, or None when one of them exists already."""
        from azure.data.tables import TableTransactionError

        try:
            results = self._table.submit_transaction([("create", entity) for entity in batch])
        except TableTransactionError:
            return None
        return {
            entity["RowKey"]: result["etag"]
            for entity, result in zip(batch, results, strict=True)
        }

    def _insert_one(self, entity: dict[str, Any], **_: Any) -> str | None:
        from azure.core.exceptions import ResourceExistsError

        try:
            return str(self._table.create_entity(entity)["etag"])
        except ResourceExistsError:
            return None  # another caller's claim: held

    def _take_over_claims(
        self, lapsed: Sequence[tuple[str, str]], claimed: dict[str, Any]
    ) -> dict[str, str]:
        """Replace each lapsed row if nobody changed it since it was read; the keys won."""
        results = self._run(self._take_over, lapsed, claimed=claimed)
        return {key: etag for (key, _), etag in zip(lapsed, results, strict=True) if etag}

    def _take_over(self, item: tuple[str, str], *, claimed: dict[str, Any]) -> str | None:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        key, etag = item
        entity = {"PartitionKey": partition_key(key), "RowKey": row_key(key), **claimed}
        try:
            metadata = self._table.update_entity(
                entity,
                mode=UpdateMode.REPLACE,
                etag=etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return None  # another caller took it over (or purged it) first
        return str(metadata["etag"])

    def _delete_claim(self, item: tuple[str, str], **_: Any) -> None:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

        key, etag = item
        # Completed, taken over after the lease, or purged meanwhile: not ours to delete.
        with suppress(ResourceModifiedError, ResourceNotFoundError):
            self._table.delete_entity(
                partition_key(key),
                row_key(key),
                etag=etag,
                match_condition=MatchConditions.IfNotModified,
            )

    def _upsert(self, batch: Sequence[dict[str, Any]], **_: Any) -> None:
        from azure.data.tables import UpdateMode

        replace = {"mode": UpdateMode.REPLACE}
        operations: list[Any] = [("upsert", entity, replace) for entity in batch]
        self._table.submit_transaction(operations)

    def _run(self, work: Callable[..., R], items: Sequence[Any], **kwargs: Any) -> list[R]:
        """Run ``work`` over ``items`` in parallel; create the table and retry once if missing."""
        from azure.core.exceptions import AzureError, HttpResponseError

        try:
            try:
                return self._map(work, items, **kwargs)
            except HttpResponseError as error:
                if error.status_code != 404:  # 404 is TableNotFound (nothing else is)
                    raise
                self._create_table()
                return self._map(work, items, **kwargs)
        except DeadlinePassed:
            raise StateUnavailable("the dedupe table did not answer in time") from None
        except AzureError as error:
            status = getattr(error, "status_code", None)
            detail = f"{type(error).__name__}" + (f", status {status}" if status else "")
            raise StateUnavailable(f"the dedupe table is unavailable ({detail})") from None

    def _create_table(self) -> None:
        """Create the missing table; instances racing to do so all end with it."""
        from azure.core.exceptions import ResourceExistsError

        with suppress(ResourceExistsError):
            self._service.create_table_if_not_exists(self._table_name)

    def _map(self, work: Callable[..., R], items: Sequence[Any], **kwargs: Any) -> list[R]:
        def call(item: Any) -> R:
            with cut_off_at(call_deadline(STORE_CALL_SECONDS)):
                return work(item, **kwargs)

        if len(items) <= 1:
            return [call(item) for item in items]
        return list(self._pool.map(in_this_context(call), items))

    def _maybe_purge(self) -> None:
        if self._purge_interval is None:
            return
        with self._purge_lock:
            running = self._purge_thread is not None and self._purge_thread.is_alive()
            if running or time.monotonic() < self._next_purge:
                return
            self._next_purge = time.monotonic() + self._purge_interval.total_seconds()
            self._purge_thread = threading.Thread(
                target=self._purge_in_background, name="dedupe-purge", daemon=True
            )
            self._purge_thread.start()

    def _purge_in_background(self) -> None:
        from azure.core.exceptions import AzureError

        try:
            deleted = self.purge_expired()
        except AzureError as error:
            log_event("dedupe_purge_failed", level=logging.WARNING, error=type(error).__name__)
            return
        if deleted >= self._purge_limit:
            with self._purge_lock:  # more are waiting: allow the next purge soon
                self._next_purge = min(self._next_purge, time.monotonic() + 10)
        log_event("dedupe_purged", rows=deleted)


def _grouped(items: Iterable[T], group_of: Callable[[T], str]) -> dict[str, list[T]]:
    grouped: dict[str, list[T]] = defaultdict(list)
    for item in items:
        grouped[group_of(item)].append(item)
    return grouped


OUTBOX_PARTITION = "outbox"  # never a hex digit: no dedupe key lands here
# A string property holds at most 64 KiB (32 K UTF-16 characters): bodies go in pieces.
_BODY_PIECE_CHARS = 30_000
_BODY_MAX_PIECES = 30  # under the 1 MB entity limit


class TableOutbox:
    """The outbox in the dedupe table: one partition, RowKey the entry's sequence.

    Table Storage returns a partition's rows in RowKey order, so ``pending`` reads the oldest
    entries first without sorting. One partition serves about 2,000 operations a second,
    ample for the flusher's batches of a few hundred rows.
    """

    def __init__(self, store: TableDedupeStore) -> None:
        self._store = store

    def put(self, entries: Sequence[tuple[str, str]]) -> None:
        rows = [self._row(event_id, body) for event_id, body in entries]
        self._store._run(self._store._upsert, list(_chunks(rows, TRANSACTION_MAX_OPERATIONS)))

    def pending(self, limit: int) -> list[OutboxEntry]:
        return self._store._run(self._read, [limit])[0]

    def remove(self, entries: Sequence[OutboxEntry]) -> None:
        rows = [row_key(entry.seq) for entry in entries]
        self._store._run(self._delete, list(_chunks(rows, TRANSACTION_MAX_OPERATIONS)))

    def __len__(self) -> int:
        return len(self.pending(1_000_000))

    @staticmethod
    def _row(event_id: str, body: str) -> dict[str, Any]:
        pieces = [body[i : i + _BODY_PIECE_CHARS] for i in range(0, len(body), _BODY_PIECE_CHARS)]
        if len(pieces) > _BODY_MAX_PIECES:
            raise ValueError(f"outbox entry {event_id} is too large for a table row")
        return {
            "PartitionKey": OUTBOX_PARTITION,
            "RowKey": row_key(sequence_for(event_id)),
            "Id": event_id,
            "Pieces": len(pieces),
            **{f"Body{index}": piece for index, piece in enumerate(pieces)},
        }

    def _read(self, limit: int, **_: Any) -> list[OutboxEntry]:
        rows = self._store._table.query_entities(
            "PartitionKey eq @pk",
            parameters={"pk": OUTBOX_PARTITION},
            results_per_page=min(limit, 1000),
        )
        entries = []
        for row in rows:
            body = "".join(row[f"Body{index}"] for index in range(row["Pieces"]))
            entries.append(OutboxEntry(row["RowKey"], row["Id"], body))
            if len(entries) >= limit:
                break
        return entries

    def _delete(self, rows: Sequence[str], **_: Any) -> None:
        from azure.core.exceptions import ResourceNotFoundError
        from azure.data.tables import TableTransactionError

        table = self._store._table
        try:
            table.submit_transaction(
                [("delete", {"PartitionKey": OUTBOX_PARTITION, "RowKey": row}) for row in rows]
            )
        except TableTransactionError:  # one went meanwhile (another flusher): one by one
            for row in rows:
                with suppress(ResourceNotFoundError):
                    table.delete_entity(OUTBOX_PARTITION, row)


GROUPS_PARTITION = "groups"
# Optimistic concurrency: a change that lost the race reads again; many instances changing one
# group at once each win within a few rounds.
MAX_CHANGE_ROUNDS = 50


class TableGroupStore:
    """Group documents as rows of one partition; each change is a conditional write."""

    def __init__(self, store: TableDedupeStore, partition: str = GROUPS_PARTITION) -> None:
        self._store = store
        self._partition = partition

    def change(self, key: str, change: Change) -> Document | None:
        result: Document | None = self._store._run(self._change, [key], change=change)[0]
        return result

    def documents(self) -> list[Document]:
        found: list[Document] = self._store._run(self._all, [None])[0]
        return found

    def _change(self, key: str, *, change: Change) -> Document | None:
        from azure.core import MatchConditions
        from azure.core.exceptions import (
            ResourceExistsError,
            ResourceModifiedError,
            ResourceNotFoundError,
        )
        from azure.data.tables import UpdateMode

        table = self._store._table
        row = row_key(key)
        for _ in range(MAX_CHANGE_ROUNDS):
            try:
                entity = table.get_entity(self._partition, row)
            except ResourceNotFoundError:
                entity = None
            current = _document(entity) if entity is not None else None
            changed = change(current)
            condition = {"match_condition": MatchConditions.IfNotModified}
            try:
                if entity is None and changed is None:
                    return None
                if entity is None:
                    table.create_entity(self._row(row, changed))
                elif changed is None:
                    table.delete_entity(
                        self._partition, row, etag=entity.metadata["etag"], **condition
                    )
                else:
                    table.update_entity(
                        self._row(row, changed),
                        mode=UpdateMode.REPLACE,
                        etag=entity.metadata["etag"],
                        **condition,
                    )
            except ResourceNotFoundError:
                if entity is None:
                    raise  # no table yet: _run creates it and runs the change again
                continue  # another instance deleted it first: read again
            except (ResourceExistsError, ResourceModifiedError):
                continue  # another instance changed it first: read again
            return changed
        raise StateUnavailable("a group changed too often to be updated; try again")

    def _all(self, _: None, **__: Any) -> list[Document]:
        rows = self._store._table.query_entities(
            "PartitionKey eq @pk", parameters={"pk": self._partition}
        )
        return [_document(row) for row in rows]

    def _row(self, row: str, document: Document | None) -> dict[str, Any]:
        # A document past one string property (the last notifications) goes in pieces, as an
        # outbox body does; most are one piece, written as ``Doc`` as before.
        text = json.dumps(document)
        pieces = [text[i : i + _BODY_PIECE_CHARS] for i in range(0, len(text), _BODY_PIECE_CHARS)]
        if len(pieces) > _BODY_MAX_PIECES:
            raise ValueError(f"document {row} is too large for a table row")
        more = {f"Doc{index}": piece for index, piece in enumerate(pieces[1:], start=1)}
        return {"PartitionKey": self._partition, "RowKey": row, "Doc": pieces[0], **more}


def _document(row: Mapping[str, Any]) -> Document:
    """A document back from its row: ``Doc``, then ``Doc1``, ``Doc2``… while there are more."""
    text, index = row["Doc"], 1
    while f"Doc{index}" in row:
        text += row[f"Doc{index}"]
        index += 1
    loaded: Document = json.loads(text)
    return loaded
