"""Two instances of the app, each a local host in its own process, on one Azurite table.

The same delivery reaches both at the same moment (and the same host twice), and is redelivered
afterwards: every alert is written once. An instance that dies holding a claim blocks nobody for
longer than the lease: a redelivery inside the lease is answered 503 (deliver later), one after
it is handled. A flusher that dies mid-send is replaced once its turn lapses: the destinations
that already had the alert do not get it again, the one that never answered gets the same id.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.data.tables import TableServiceClient

from handlers.alerting.alert import ALERT_TYPE
from handlers.inbound.envelope import parse_events
from handlers.pipeline import CLAIM_LEASE, event_record_key
from handlers.settings import setting_names
from handlers.state.table import TableDedupeStore
from tests.azurite import Azurite, azurite_fixture
from tests.capture_server import CaptureServer, Reply
from tests.conftest import read_alerts
from tests.events import sms_report

__all__ = ["azurite_fixture"]

pytestmark = pytest.mark.azurite

REPO_ROOT = Path(__file__).resolve().parent.parent
TABLE = "acstriageclaims"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"a secret of thirty-two bytes....").decode()
# Event Grid retries for a day; here a bounded loop stands in for it (30 s: enough for a holder
# to finish on a loaded machine).
MAX_REDELIVERIES = 100


def host_environment(azurite: Azurite, alert_file: Path, webhook_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.upper() not in set(setting_names())}
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        CALLBACK_JWT_REQUIRED="false",
        DEDUPE_STORE="table",
        DEDUPE_TABLE_CONNECTION_STRING=azurite.connection_string,
        DEDUPE_TABLE_NAME=TABLE,
        ALERT_FILE=str(alert_file),
        ALERT_WEBHOOK_URL=webhook_url,
        ALERT_WEBHOOK_SECRET=WEBHOOK_SECRET,
        ALERT_WEBHOOK_RECEIVES="alerts",  # these tests count what the webhook gets of them
        GROUP_WAIT_SECONDS="3600",  # these tests count alerts; no group notification
    )
    return env


class HostProcess:
    """One instance: ``python -m tests.host_process``, stopped by its own pid."""

    def __init__(self, env: dict[str, str], clock_offset: float = 0.0) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.host_process", "--clock-offset", str(clock_offset)],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        port = self.process.stdout.readline().strip()
        assert port, "the host process did not start"
        self.url = f"http://127.0.0.1:{int(port)}/api/eventgrid"

    def post(self, body: Any) -> requests.Response:
        return requests.post(self.url, json=body, timeout=60)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def start_host() -> Iterator[Callable[..., HostProcess]]:
    started: list[HostProcess] = []

    def start(env: dict[str, str], clock_offset: float = 0.0) -> HostProcess:
        host = HostProcess(env, clock_offset)
        started.append(host)
        return host

    yield start
    for host in started:
        host.kill()


def deliver_until_answered(host: HostProcess, body: Any) -> list[str]:
    """Post like Event Grid: again after a 503, a bounded number of times; the answers seen
    ("200", or the 503's problem type: events-in-progress, or a store too slow on a loaded
    machine, which Event Grid retries alike)."""
    answers = []
    for _ in range(MAX_REDELIVERIES):
        response = host.post(body)
        if response.status_code != 503:
            answers.append(str(response.status_code))
            return answers
        assert "Retry-After" in response.headers, response.text
        answers.append(response.json()["type"].rsplit(":", 1)[-1])
        time.sleep(0.3)
    return answers


def failed_sms(n: int) -> list[dict[str, Any]]:
    return [sms_report(f"sms-{n}", status="Failed", details="5000: failed")]


def test_concurrent_and_redelivered_events_alert_once_across_two_hosts(
    azurite: Azurite, tmp_path: Path, start_host: Callable[..., HostProcess]
) -> None:
    alert_file = tmp_path / "alerts.jsonl"
    # A slow destination widens the window in which a second attempt overtakes the first.
    with CaptureServer(default=Reply(200, delay=0.2)) as receiver:
        env = host_environment(azurite, alert_file, receiver.url("/hook"))
        first, second = start_host(env), start_host(env)
        events = 100
        # Each event goes to the first host, the second host and the first host again, at once.
        contenders = (first, second, first)
        barriers = [threading.Barrier(len(contenders), timeout=60) for _ in range(events)]

        def contend(n: int, host: HostProcess) -> list[str]:
            barriers[n].wait()
            return deliver_until_answered(host, failed_sms(n))

        with ThreadPoolExecutor(max_workers=len(contenders) * 10) as pool:
            futures = [pool.submit(contend, n, h) for n in range(events) for h in contenders]
            answers = [future.result() for future in futures]
        # Then Event Grid redelivers everything once more, to both.
        late = [host.post(failed_sms(n)) for n in range(events) for host in (first, second)]

        assert all(seen[-1] == "200" for seen in answers)
        assert any("events-in-progress" in seen for seen in answers), "no attempt overlapped"
        assert all(r.status_code == 200 and r.json()["outcomes"] == {"duplicate": 1} for r in late)
        with waiting("the flushers to empty the outbox") as until:
            until(lambda: len(read_alerts(alert_file)) >= events and outbox_rows(azurite) == 0)
        written = Counter(alert["data"]["event"]["id"] for alert in read_alerts(alert_file))
        assert written == Counter({f"sms-{n}": 1 for n in range(events)})
        received = Counter(
            a["id"] for r in receiver.accepted() for a in r.json() if a["type"] == ALERT_TYPE
        )
        assert len(received) == events and set(received.values()) == {1}


def outbox_rows(azurite: Azurite) -> int:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    rows = service.get_table_client(TABLE).query_entities("PartitionKey eq 'outbox'")
    return len(list(rows))


def sent_rows(azurite: Azurite) -> list[str]:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    rows = service.get_table_client(TABLE).list_entities(select=["RowKey", "State"])
    return [row["RowKey"] for row in rows if row["RowKey"].startswith("sent")]


@contextmanager
def waiting(what: str) -> Iterator[Callable[[Callable[[], bool]], None]]:
    def until(condition: Callable[[], bool]) -> None:
        for _ in range(1200):  # bounded: 2 minutes (a loaded machine runs Azurite slowly)
            if condition():
                return
            time.sleep(0.1)
        pytest.fail(f"gave up waiting for {what}")

    yield until


def test_a_claim_left_by_a_crashed_host_lapses_after_its_lease(
    azurite: Azurite, tmp_path: Path, start_host: Callable[..., HostProcess]
) -> None:
    alert_file = tmp_path / "alerts.jsonl"
    with CaptureServer() as receiver:
        env = host_environment(azurite, alert_file, receiver.url("/hook"))
        # An instance claims the event and dies before it records anything.
        crashed = TableDedupeStore.from_connection_string(
            azurite.connection_string, TABLE, window=timedelta(hours=1), purge_interval=None
        )
        [key] = [event_record_key(e) for e in parse_events(failed_sms(1))]
        assert crashed.claim([key], CLAIM_LEASE).won == {key}
        crashed.close()

        present = start_host(env)
        inside_lease = present.post(failed_sms(1))
        assert inside_lease.status_code == 503
        assert inside_lease.json()["type"].endswith("events-in-progress")
        assert "Retry-After" in inside_lease.headers
        # Its clock is a minute behind the next one's: two flushers that far apart could
        # overlap (real instances differ by far less than a lease).
        present.kill()

        after_lease = start_host(env, clock_offset=CLAIM_LEASE.total_seconds() + 1)
        handled = after_lease.post(failed_sms(1))
        assert handled.status_code == 200 and handled.json()["outcomes"] == {"alert": 1}
        assert after_lease.post(failed_sms(1)).json()["outcomes"] == {"duplicate": 1}
        with waiting("the alert to be flushed") as until:
            until(lambda: len(receiver.accepted()) == 1 and outbox_rows(azurite) == 0)
    assert [a["data"]["event"]["id"] for a in read_alerts(alert_file)] == ["sms-1"]


def test_a_flusher_killed_mid_send_resends_only_what_was_not_accepted_with_the_same_id(
    azurite: Azurite, tmp_path: Path, start_host: Callable[..., HostProcess]
) -> None:
    alert_file = tmp_path / "alerts.jsonl"
    with CaptureServer() as receiver:
        receiver.answer(Reply(200, delay=10))  # the first send hangs on the webhook
        env = host_environment(azurite, alert_file, receiver.url("/hook"))
        doomed = start_host(env)
        assert doomed.post(failed_sms(1)).json()["outcomes"] == {"alert": 1}  # nobody waits
        with waiting("the flusher to reach both destinations") as until:
            until(lambda: len(receiver.requests) == 1 and len(sent_rows(azurite)) == 1)
        doomed.kill()  # dies mid-send: the file has it, the webhook's answer never came

        # Another instance's flusher takes over once the dead one's turn has lapsed.
        start_host(env, clock_offset=CLAIM_LEASE.total_seconds() + 1)
        with waiting("the other flusher to finish the job") as until:
            until(lambda: len(receiver.requests) == 2 and outbox_rows(azurite) == 0)
        requests = receiver.requests
    assert [a["data"]["event"]["id"] for a in read_alerts(alert_file)] == ["sms-1"]
    ids = [alert["id"] for request in requests for alert in request.json()]
    assert len(ids) == 2 and len(set(ids)) == 1
    assert len({request.header("webhook-id") for request in requests}) == 1
