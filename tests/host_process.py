"""The local host in a process of its own: one "instance" of the app for tests that need two.

    python -m tests.host_process [--clock-offset SECONDS]

The settings come from the environment, as in Azure. It prints its port on the first line of
stdout once it listens, and serves (and flushes its outbox on a thread, as the local host does)
until it is killed. ``--clock-offset`` moves the table
store's clock forward: an instance that starts after a claim's lease has lapsed.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from handlers.runtime import Runtime, reset_runtime
from handlers.settings import load_settings
from handlers.state.table import TableDedupeStore
from handlers.tools.localhost import FlusherThread, make_server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clock-offset", type=float, default=0.0)
    args = parser.parse_args()
    settings = load_settings()
    offset = timedelta(seconds=args.clock_offset)
    secret = settings.dedupe_table_connection_string
    assert secret is not None, "DEDUPE_TABLE_CONNECTION_STRING is required"
    store = TableDedupeStore.from_connection_string(
        secret.get_secret_value(),
        settings.dedupe_table_name,
        window=timedelta(hours=settings.dedupe_window_hours),
        now=lambda: datetime.now(UTC) + offset,
    )
    runtime = Runtime.build(settings, dedupe=store)
    reset_runtime(runtime)
    server = make_server("127.0.0.1", 0, access_log=False)
    FlusherThread(runtime, interval=0.2).start()
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
