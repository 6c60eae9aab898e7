"""The azd hooks' logic, run for real (`sh infra/hooks/*.sh`) with `az` and `azd` replaced.

The edge of the world is the only thing stubbed: `az` and `azd` on PATH are small scripts that
record their arguments, answer from a table of rules given per test, and keep `azd env set`
values in a file. `curl` is real and reaches a health endpoint served on 127.0.0.1. pwsh is not
installed here: the .ps1 twins are kept equivalent by review (their commands are compared with
the sh hooks' in tests/test_infra.py and below).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
HOOKS = REPO / "infra" / "hooks"

SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
ACS_ID = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-comms/providers/"
    "Microsoft.Communication/communicationServices/acs-prod"
)
APP_GROUP = "rg-acs-triage-prod"

STUB = """#!{python}
# Stand-in for {tool}: records its arguments, answers from the test's rules.
import json, os, sys
from pathlib import Path

tool, args = {tool!r}, sys.argv[1:]
state = Path(os.environ["HOOK_STUB_DIR"])
with (state / "calls.jsonl").open("a") as log:
    log.write(json.dumps([tool, *args]) + "\\n")
if tool == "azd" and args[:2] == ["env", "set"] and len(args) == 4:
    env_file = state / "azd-env.json"
    values = json.loads(env_file.read_text()) if env_file.exists() else {{}}
    values[args[2]] = args[3]
    env_file.write_text(json.dumps(values))
    sys.exit(0)
rules = json.loads((state / "rules.json").read_text())
for index, rule in enumerate(rules):
    if rule["tool"] == tool and args[: len(rule["prefix"])] == rule["prefix"]:
        counter = state / f"rule-{{index}}.count"
        count = int(counter.read_text()) if counter.exists() else 0
        counter.write_text(str(count + 1))
        answer = rule["answers"][min(count, len(rule["answers"]) - 1)]
        sys.stdout.write(answer.get("stdout", ""))
        sys.stderr.write(answer.get("stderr", ""))
        sys.exit(answer.get("exit", 0))
sys.stderr.write(f"stub {{tool}}: unexpected call {{args}}\\n")
sys.exit(97)
"""


@dataclass
class Rule:
    """`tool` called with arguments starting with `prefix` answers the next of `answers`
    (the last one repeats)."""

    tool: str
    prefix: list[str]
    answers: list[dict[str, Any]] = field(default_factory=lambda: [{}])


@dataclass
class HookResult:
    returncode: int
    stdout: str
    stderr: str
    calls: list[list[str]]
    azd_env: dict[str, str]

    def calls_to(self, *prefix: str) -> list[list[str]]:
        return [call for call in self.calls if call[: len(prefix)] == list(prefix)]


@pytest.fixture
def run_hook(tmp_path: Path) -> Any:
    stub_dir = tmp_path / "stubs"
    stub_dir.mkdir()
    for tool in ("az", "azd"):
        stub = stub_dir / tool
        stub.write_text(STUB.format(python=sys.executable, tool=tool))
        stub.chmod(0o755)

    def run(hook: str, env: dict[str, str], rules: list[Rule]) -> HookResult:
        for leftover in stub_dir.glob("*.json*"):
            leftover.unlink()
        for counter in stub_dir.glob("rule-*.count"):
            counter.unlink()
        (stub_dir / "rules.json").write_text(json.dumps([r.__dict__ for r in rules]))
        result = subprocess.run(
            ["sh", str(HOOKS / f"{hook}.sh")],
            env={
                # only the stubs and the system's own tools (curl, awk, ...): no real az or azd
                "PATH": f"{stub_dir}:/usr/bin:/bin",
                "HOME": str(tmp_path),
                "HOOK_STUB_DIR": str(stub_dir),
                **env,
            },
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        calls_file = stub_dir / "calls.jsonl"
        calls = (
            [json.loads(line) for line in calls_file.read_text().splitlines()]
            if (calls_file.exists())
            else []
        )
        env_file = stub_dir / "azd-env.json"
        azd_env = json.loads(env_file.read_text()) if env_file.exists() else {}
        return HookResult(result.returncode, result.stdout, result.stderr, calls, azd_env)

    return run


# --- preprovision ----------------------------------------------------------------------------


def _preprovision_env(**overrides: str) -> dict[str, str]:
    return {"AZURE_SUBSCRIPTION_ID": SUBSCRIPTION, "ACS_RESOURCE_ID": ACS_ID, **overrides}


def _signed_in(registration: str = "Registered") -> list[Rule]:
    return [
        Rule("az", ["account", "show"]),
        Rule("az", ["provider", "show"], [{"stdout": f"{registration}\n"}]),
        Rule("az", ["provider", "register"]),
    ]


def _topics(*rows: tuple[str, str, str, str]) -> Rule:
    """What `az eventgrid system-topic list --query [].[source,name,resourceGroup,identity.type]
    --output tsv` prints: one tab-separated line per topic (None prints as an empty field)."""
    text = "".join("\t".join(row) + "\n" for row in rows)
    return Rule("az", ["eventgrid", "system-topic", "list"], [{"stdout": text}])


OTHER_TOPIC = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-data/providers/"
    "Microsoft.Storage/storageAccounts/stdata",
    "stdata-topic",
    "rg-data",
    "",
)


def test_preprovision_registers_microsoft_app_when_it_is_not(run_hook: Any) -> None:
    result = run_hook(
        "preprovision", _preprovision_env(), [*_signed_in("NotRegistered"), _topics()]
    )
    assert result.returncode == 0, result.stderr
    assert result.calls_to("az", "provider", "register") == [[
        "az", "provider", "register", "--namespace", "Microsoft.App",
        "--subscription", SUBSCRIPTION, "--wait",
    ]]  # fmt: skip


def test_preprovision_leaves_a_registered_microsoft_app_alone(run_hook: Any) -> None:
    result = run_hook("preprovision", _preprovision_env(), [*_signed_in(), _topics()])
    assert result.returncode == 0, result.stderr
    assert result.calls_to("az", "provider", "show")[0][3:5] == ["--namespace", "Microsoft.App"]
    assert not result.calls_to("az", "provider", "register")


def test_preprovision_without_a_system_topic_lets_the_bicep_create_one(run_hook: Any) -> None:
    result = run_hook("preprovision", _preprovision_env(), [*_signed_in(), _topics(OTHER_TOPIC)])
    assert result.returncode == 0, result.stderr
    assert result.azd_env == {
        "EVENT_SYSTEM_TOPIC_NAME": "",
        "EVENT_SYSTEM_TOPIC_RESOURCE_GROUP": "",
    }
    [listing] = result.calls_to("az", "eventgrid", "system-topic", "list")
    assert listing[listing.index("--subscription") + 1] == SUBSCRIPTION


def test_preprovision_finds_the_existing_topic_in_another_group_whatever_its_id_casing(
    run_hook: Any,
) -> None:
    # The portal stores the source with its own casing; resource ids are case-insensitive.
    stored_source = ACS_ID.replace("resourceGroups", "resourcegroups").replace(
        "acs-prod", "ACS-PROD"
    )
    topic = (stored_source, "acs-prod-events", "rg-comms", "SystemAssigned")
    result = run_hook(
        "preprovision", _preprovision_env(), [*_signed_in(), _topics(OTHER_TOPIC, topic)]
    )
    assert result.returncode == 0, result.stderr
    assert result.azd_env == {
        "EVENT_SYSTEM_TOPIC_NAME": "acs-prod-events",
        "EVENT_SYSTEM_TOPIC_RESOURCE_GROUP": "rg-comms",
    }
    assert not result.calls_to("az", "eventgrid", "system-topic", "update")


def test_preprovision_gives_a_found_topic_without_identity_a_system_assigned_one(
    run_hook: Any,
) -> None:
    topic = (ACS_ID, "acs-prod-events", "rg-comms", "")
    result = run_hook("preprovision", _preprovision_env(), [
        *_signed_in(), _topics(topic), Rule("az", ["eventgrid", "system-topic", "update"]),
    ])  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.calls_to("az", "eventgrid", "system-topic", "update") == [[
        "az", "eventgrid", "system-topic", "update", "--name", "acs-prod-events",
        "--resource-group", "rg-comms", "--subscription", SUBSCRIPTION,
        "--identity", "systemassigned", "--output", "none",
    ]]  # fmt: skip
    assert result.azd_env["EVENT_SYSTEM_TOPIC_NAME"] == "acs-prod-events"


def test_preprovision_stops_at_a_topic_with_only_a_user_assigned_identity(run_hook: Any) -> None:
    topic = (ACS_ID, "acs-prod-events", "rg-comms", "UserAssigned")
    result = run_hook("preprovision", _preprovision_env(), [*_signed_in(), _topics(topic)])
    assert result.returncode == 1
    assert "only a user-assigned identity" in result.stderr
    assert result.azd_env == {}
    assert not result.calls_to("az", "eventgrid", "system-topic", "update")


def test_preprovision_asks_for_the_communication_services_resource(run_hook: Any) -> None:
    result = run_hook("preprovision", {"AZURE_SUBSCRIPTION_ID": SUBSCRIPTION}, [])
    assert result.returncode == 1
    assert "azd env set ACS_RESOURCE_ID" in result.stderr
    assert result.calls == []


def test_preprovision_refuses_a_resource_in_another_subscription(run_hook: Any) -> None:
    elsewhere = ACS_ID.replace(SUBSCRIPTION, "99999999-2222-3333-4444-555555555555")
    result = run_hook("preprovision", _preprovision_env(ACS_RESOURCE_ID=elsewhere), [])
    assert result.returncode == 1
    assert "is not in subscription" in result.stderr
    assert result.calls == []


def test_preprovision_says_to_sign_in_when_az_cannot_use_the_subscription(run_hook: Any) -> None:
    result = run_hook("preprovision", _preprovision_env(), [
        Rule("az", ["account", "show"], [{"exit": 1, "stderr": "Please run 'az login'"}]),
    ])  # fmt: skip
    assert result.returncode == 1
    assert "run az login" in result.stderr
    assert len(result.calls) == 1


# --- postdeploy ------------------------------------------------------------------------------


@dataclass
class HealthEndpoint:
    base_url: str
    served: list[str]


@contextmanager
def health_endpoint(*statuses: int) -> Iterator[HealthEndpoint]:
    """/api/health on 127.0.0.1 answering the given statuses in turn (the last one repeats)."""
    pending = list(statuses)
    served: list[str] = []

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.append(self.path)
            status = pending.pop(0) if len(pending) > 1 else pending[0]
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HealthEndpoint(f"http://127.0.0.1:{server.server_address[1]}", served)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _postdeploy_env(base_url: str, **overrides: str) -> dict[str, str]:
    return {
        "AZURE_SUBSCRIPTION_ID": SUBSCRIPTION,
        "AZURE_RESOURCE_GROUP": APP_GROUP,
        "SERVICE_API_URI": base_url,
        "FUNCTION_APP_NAME": "func-acstriage-abc",
        "EVENT_SYSTEM_TOPIC_NAME": "acs-prod-events",
        "EVENT_SYSTEM_TOPIC_RESOURCE_GROUP": "rg-comms",
        "EVENT_SUBSCRIPTION_NAME": "acs-triage",
        "DEAD_LETTER_STORAGE_ACCOUNT_ID": "/subscriptions/x/resourceGroups/rg/providers/"
        "Microsoft.Storage/storageAccounts/stacstriageabc",
        "DEAD_LETTER_CONTAINER_NAME": "eventgrid-deadletter",
        "HEALTH_WAIT_SECONDS": "0",
        "EVENT_SUBSCRIPTION_RETRY_SECONDS": "0",
        **overrides,
    }


def _parameters(call: list[str]) -> dict[str, str]:
    start = call.index("--parameters") + 1
    values = {}
    for argument in call[start:]:
        if argument.startswith("--"):
            break
        name, _, value = argument.partition("=")
        values[name] = value
    return values


def test_postdeploy_deploys_only_the_subscription_into_the_topics_group(run_hook: Any) -> None:
    with health_endpoint(200) as health:
        env = _postdeploy_env(health.base_url)
        result = run_hook("postdeploy", env, [Rule("az", ["deployment", "group", "create"])])
    assert result.returncode == 0, result.stderr
    assert health.served == ["/api/health"]
    [deployment] = result.calls
    assert deployment[deployment.index("--resource-group") + 1] == "rg-comms"
    assert deployment[deployment.index("--subscription") + 1] == SUBSCRIPTION
    template = Path(deployment[deployment.index("--template-file") + 1])
    assert template.resolve() == REPO / "infra" / "subscription.bicep"
    assert _parameters(deployment) == {
        "systemTopicName": "acs-prod-events",
        "functionAppName": "func-acstriage-abc",
        "functionAppResourceGroup": APP_GROUP,
        "subscriptionName": "acs-triage",
        "deadLetterStorageAccountId": env["DEAD_LETTER_STORAGE_ACCOUNT_ID"],
        "deadLetterContainerName": "eventgrid-deadletter",
    }
    # nothing provisions the whole template again (that would PUT the site before listKeys)
    assert not result.calls_to("azd")


def test_postdeploy_waits_until_the_app_answers(run_hook: Any) -> None:
    with health_endpoint(503, 503, 200) as health:
        result = run_hook(
            "postdeploy",
            _postdeploy_env(health.base_url),
            [Rule("az", ["deployment", "group", "create"])],
        )
    assert result.returncode == 0, result.stderr
    assert len(health.served) == 3
    assert len(result.calls_to("az", "deployment", "group", "create")) == 1


def test_postdeploy_retries_a_transient_failure_of_the_subscription_deployment(
    run_hook: Any,
) -> None:
    failure = {
        "exit": 1,
        "stderr": "InternalServerError: Encountered an error (InternalServerError)"
        " from host runtime.\n",
    }
    with health_endpoint(200) as health:
        result = run_hook(
            "postdeploy",
            _postdeploy_env(health.base_url),
            [Rule("az", ["deployment", "group", "create"], [failure, failure, {}])],
        )
    assert result.returncode == 0, result.stderr
    assert len(result.calls_to("az", "deployment", "group", "create")) == 3
    assert "attempt 2 of 5 failed" in result.stdout


def test_postdeploy_gives_up_after_the_last_attempt_and_says_what_to_do(run_hook: Any) -> None:
    with health_endpoint(200) as health:
        result = run_hook(
            "postdeploy",
            _postdeploy_env(health.base_url, EVENT_SUBSCRIPTION_ATTEMPTS="3"),
            [Rule("az", ["deployment", "group", "create"], [{"exit": 1}])],
        )
    assert result.returncode == 1
    assert len(result.calls_to("az", "deployment", "group", "create")) == 3
    assert "after 3 attempts" in result.stderr and "azd deploy" in result.stderr


def test_postdeploy_creates_nothing_when_the_app_never_answers(run_hook: Any) -> None:
    with health_endpoint(503) as health:
        result = run_hook(
            "postdeploy",
            _postdeploy_env(health.base_url, HEALTH_WAIT_ATTEMPTS="3"),
            [],
        )
    assert result.returncode == 1
    assert len(health.served) == 3
    assert result.calls == []
    assert "did not answer" in result.stderr


def test_postdeploy_needs_the_outputs_of_a_provision(run_hook: Any) -> None:
    env = _postdeploy_env("http://127.0.0.1:9")
    del env["EVENT_SYSTEM_TOPIC_RESOURCE_GROUP"]
    result = run_hook("postdeploy", env, [])
    assert result.returncode == 1
    assert "EVENT_SYSTEM_TOPIC_RESOURCE_GROUP is not set: run azd provision first" in result.stderr
    assert result.calls == []


# --- predown ---------------------------------------------------------------------------------


def _predown_env(topic_group: str) -> dict[str, str]:
    return {
        "AZURE_SUBSCRIPTION_ID": SUBSCRIPTION,
        "AZURE_RESOURCE_GROUP": APP_GROUP,
        "EVENT_SYSTEM_TOPIC_NAME": "acs-prod-events",
        "EVENT_SYSTEM_TOPIC_RESOURCE_GROUP": topic_group,
        "EVENT_SUBSCRIPTION_NAME": "acs-triage",
    }


def test_predown_removes_the_subscription_from_a_topic_that_outlives_azd_down(
    run_hook: Any,
) -> None:
    result = run_hook("predown", _predown_env("rg-comms"), [
        Rule("az", ["eventgrid", "system-topic", "event-subscription", "show"]),
        Rule("az", ["eventgrid", "system-topic", "event-subscription", "delete"]),
    ])  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.calls_to("az", "eventgrid", "system-topic", "event-subscription", "delete") == [[
        "az", "eventgrid", "system-topic", "event-subscription", "delete",
        "--subscription", SUBSCRIPTION, "--resource-group", "rg-comms",
        "--system-topic-name", "acs-prod-events", "--name", "acs-triage", "--yes",
    ]]  # fmt: skip


def test_predown_leaves_a_topic_in_the_deleted_group_to_azd_down(run_hook: Any) -> None:
    result = run_hook("predown", _predown_env(APP_GROUP.upper()), [])
    assert result.returncode == 0, result.stderr
    assert result.calls == []


def test_predown_does_nothing_when_the_topic_has_no_such_subscription(run_hook: Any) -> None:
    result = run_hook("predown", _predown_env("rg-comms"), [
        Rule("az", ["eventgrid", "system-topic", "event-subscription", "show"], [{"exit": 3}]),
    ])  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert not result.calls_to("az", "eventgrid", "system-topic", "event-subscription", "delete")


# --- azd down, then azd up ---------------------------------------------------------------------


def test_down_then_up_re_derives_the_topic_and_creates_the_subscription_again(
    run_hook: Any,
) -> None:
    # The environment after a first `azd up` whose Bicep created the topic in the app's group,
    # plus what an older version of the hooks left behind.
    left_over = {
        **_postdeploy_env("http://127.0.0.1:9"),
        "EVENT_SYSTEM_TOPIC_RESOURCE_GROUP": APP_GROUP,
        "EVENT_SYSTEM_TOPIC_NAME": "evgst-acstriage-abc",
        "DEPLOY_EVENT_SUBSCRIPTION": "true",
        "ACS_RESOURCE_ID": ACS_ID,
    }
    down = run_hook("predown", left_over, [])
    assert down.returncode == 0 and down.calls == []  # the topic goes with the group

    # azd down deleted the group: the next `azd up` finds no topic and forgets the old one ...
    up = run_hook("preprovision", left_over, [*_signed_in(), _topics()])
    assert up.returncode == 0, up.stderr
    assert up.azd_env == {"EVENT_SYSTEM_TOPIC_NAME": "", "EVENT_SYSTEM_TOPIC_RESOURCE_GROUP": ""}
    assert "DEPLOY_EVENT_SUBSCRIPTION" not in (REPO / "infra" / "main.parameters.json").read_text()

    # ... provisioning creates a topic (its outputs land in the environment), the code is
    # deployed, and postdeploy creates the subscription on the new topic.
    with health_endpoint(200) as health:
        provisioned = {
            **left_over,
            "SERVICE_API_URI": health.base_url,
            "EVENT_SYSTEM_TOPIC_NAME": "evgst-acstriage-abc",
        }
        deployed = run_hook(
            "postdeploy", provisioned, [Rule("az", ["deployment", "group", "create"])]
        )
    assert deployed.returncode == 0, deployed.stderr
    [deployment] = deployed.calls
    assert _parameters(deployment)["systemTopicName"] == "evgst-acstriage-abc"


# --- the Windows twins -------------------------------------------------------------------------


def _commands(script: str) -> set[str]:
    """Every az/azd command a hook runs or names outside comments (`az eventgrid system-topic
    list`, `azd env set EVENT_SYSTEM_TOPIC_NAME`), messages included."""
    code = "\n".join(
        line
        for line in script.splitlines()
        # comments, and the health check (curl here, Invoke-WebRequest there)
        if not line.lstrip().startswith("#") and "curl " not in line
    )
    found = {m.group(0) for m in re.finditer(r"\bazd? [a-z][a-z-]*(?: [a-z][a-z-]*)*", code)}
    found |= {m.group(0) for m in re.finditer(r"azd env set [A-Z_]+", code)}
    # and every option they are given (--identity, --yes, ...)
    found |= {m.group(0) for m in re.finditer(r"(?<![\w-])--[a-z][a-z-]*", code)}
    return found


@pytest.mark.parametrize("hook", ["preprovision", "postdeploy", "predown"])
def test_windows_twin_runs_the_same_commands(hook: str) -> None:
    sh = _commands((HOOKS / f"{hook}.sh").read_text())
    ps1 = _commands((HOOKS / f"{hook}.ps1").read_text())
    assert sh and sh == ps1, (sorted(sh - ps1), sorted(ps1 - sh))


def test_stubs_stand_in_for_the_real_tools(run_hook: Any) -> None:
    # A hook that called anything not in the test's rules would fail loudly, not pass quietly.
    result = run_hook("predown", _predown_env("rg-comms"), [])
    assert result.returncode == 0
    assert "stub az: unexpected call" in result.stderr
