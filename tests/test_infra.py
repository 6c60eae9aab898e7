"""Offline checks of the deployment: Bicep syntax, policy scan, settings agreement, azd wiring.

Nothing here reaches Azure. The Bicep is read with tree-sitter-bicep (the Bicep CLI downloads a
binary, so it is not used), the policy scan is checkov's Bicep framework run from its own venv
(`.venv-scan`, pinned in infra/requirements-scan.txt) with every download turned off.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import tree_sitter_bicep
from tree_sitter import Language, Node, Parser

from handlers.settings import load_settings, setting_names

REPO = Path(__file__).resolve().parent.parent
INFRA = REPO / "infra"
MAIN_BICEP = INFRA / "main.bicep"
FUNCTION_APP_BICEP = INFRA / "modules" / "functionapp.bicep"
SUBSCRIPTION_BICEP = INFRA / "subscription.bicep"
STORAGE_BICEP = INFRA / "modules" / "storage.bicep"
ALERTS_BICEP = INFRA / "modules" / "alerts.bicep"
HOOKS = INFRA / "hooks"
HOOK_NAMES = ("preprovision", "postdeploy", "predown")
PARAMETERS_JSON = INFRA / "main.parameters.json"
AZURE_YAML = REPO / "azure.yaml"
LOCAL_SETTINGS_EXAMPLE = REPO / "local.settings.example.json"
CHECKOV = REPO / ".venv-scan" / "bin" / "checkov"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))

# App settings the Functions host itself reads in Azure (not the app's code), each with its reason.
# Flex Consumption takes the language and version from functionAppConfig.runtime and rejects
# FUNCTIONS_WORKER_RUNTIME / FUNCTIONS_EXTENSION_VERSION, so neither is on this list.
HOST_SETTINGS = {
    # Host storage by identity: the account name instead of a connection string with a key ...
    "AzureWebJobsStorage__accountName": "host storage account, reached with Entra ID",
    # ... authenticated with a managed identity ...
    "AzureWebJobsStorage__credential": "'managedidentity': no shared key exists",
    # ... namely the user-assigned one (the app has no system-assigned identity).
    "AzureWebJobsStorage__clientId": "which identity the host uses for its storage",
    # Where telemetry goes; with local auth off it is a locator, not a credential.
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "Application Insights ingestion endpoint",
    # Application Insights has DisableLocalAuth: the host sends telemetry with the identity.
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Entra ID telemetry with the identity",
}

# Settings the code reads that Azure deliberately leaves unset, each with its reason.
LOCAL_ONLY_SETTINGS = {
    # A Flex instance's disk is neither shared nor kept when it scales in; in Azure alerts go to
    # the Event Grid topic. (An empty ALERT_FILE would also read as the path '.', not as "off".)
    "ALERT_FILE": "alerts to a JSON-lines file on the local disk",
    # What that file receives: with no file in Azure, nothing to choose.
    "ALERT_FILE_RECEIVES": "what the local alert file receives",
    # The alert topic has disableLocalAuth: true, so no key exists; the app publishes with its
    # managed identity (EventGrid Data Sender).
    "ALERT_TOPIC_KEY": "access key of the alert topic",
    # The storage account has allowSharedKeyAccess: false; the dedupe table is reached through
    # DEDUPE_TABLE_SERVICE_URI with the managed identity (Storage Table Data Contributor).
    "DEDUPE_TABLE_CONNECTION_STRING": "connection string with an account key",
}

# Settings the local example adds for Core Tools (`func start`), which the code does not read.
LOCAL_HOST_SETTINGS = {"FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsStorage"}

# Built-in roles the deployment must grant (the ids are the same in every tenant).
REQUIRED_ROLES = {
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "EventGrid Data Sender": "d5a91429-5739-47e2-a06b-3470a27159e7",
    "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
}

SKIP_COMMENT = re.compile(r"checkov:skip=([A-Z0-9_]+)(?::(.*))?")
SCAN_VENV_HINT = (
    "create the scan venv with `python3 -m venv .venv-scan && "
    ".venv-scan/bin/pip install -r infra/requirements-scan.txt` (make test does this)"
)


# --- reading Bicep with tree-sitter ------------------------------------------------------------


@cache
def _parser() -> Parser:
    return Parser(Language(tree_sitter_bicep.language()))


@cache
def _tree_root(path: Path) -> Node:
    return _parser().parse(path.read_bytes()).root_node


def _walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from _walk(child)


def _text(node: Node) -> str:
    return (node.text or b"").decode()


def _first_named(node: Node, node_type: str) -> Node | None:
    return next((child for child in node.named_children if child.type == node_type), None)


def _name_of(node: Node) -> str:
    """The name of a declaration or the key of an object property (identifier or 'string')."""
    first = node.named_children[0]
    if first.type == "string":
        return "".join(_text(part) for part in first.named_children)
    return _text(first)


def _string_literal(node: Node) -> str | None:
    """The value of a plain string (no interpolation), else None."""
    if node.type != "string" or any(c.type == "interpolation" for c in node.named_children):
        return None
    return "".join(_text(part) for part in node.named_children if part.type == "string_content")


def _declaration(path: Path, kind: str, name: str) -> Node:
    """The `param`/`var`/`output`/`module` declaration of that name in a Bicep file."""
    for node in _tree_root(path).named_children:
        if node.type == f"{kind}_declaration" and _name_of(node) == name:
            return node
    raise AssertionError(f"{path.relative_to(REPO)} declares no {kind} {name!r}")


def _declarations(path: Path, kind: str) -> list[Node]:
    return [n for n in _tree_root(path).named_children if n.type == f"{kind}_declaration"]


def _object_properties(obj: Node) -> dict[str, Node]:
    """Key → value node of a Bicep object literal."""
    assert obj.type == "object", f"expected an object literal, found {obj.type}: {_text(obj)[:80]}"
    return {
        _name_of(prop): prop.named_children[-1]
        for prop in obj.named_children
        if prop.type == "object_property"
    }


def _variable_object(path: Path, name: str) -> dict[str, Node]:
    declaration = _declaration(path, "variable", name)
    return _object_properties(declaration.named_children[-1])


def _param_defaults(path: Path) -> dict[str, str]:
    """Literal default of every parameter that has one (string, number or boolean)."""
    return _literal_declarations(path, "parameter")


def _known_literals(path: Path) -> dict[str, str]:
    """Parameters' literal defaults and variables' literal values, by name."""
    return {**_param_defaults(path), **_literal_declarations(path, "variable")}


def _literal_declarations(path: Path, kind: str) -> dict[str, str]:
    literals: dict[str, str] = {}
    for declaration in _declarations(path, kind):
        value = _literal_value(declaration.named_children[-1], {})
        if value is not None:
            literals[_name_of(declaration)] = value
    return literals


def _literal_value(node: Node, names: dict[str, str]) -> str | None:
    """What an expression always evaluates to, when it is a literal, a name with a literal value
    (a parameter's default, a variable), or string() of one; None when computed at deployment."""
    literal = _string_literal(node)
    if literal is not None:
        return literal
    if node.type in {"number", "boolean"}:
        return _text(node)
    if node.type == "identifier":
        return names.get(_text(node))
    if node.type == "call_expression" and _text(node.named_children[0]) == "string":
        arguments = node.named_children[1].named_children
        if len(arguments) == 1:
            return _literal_value(arguments[0], names)
    return None


def _resource_type(declaration: Node) -> str | None:
    """'Provider/type@api-version' of a resource declaration."""
    type_node = _first_named(declaration, "string")
    return _string_literal(type_node) if type_node else None


def _resources(type_prefix: str) -> list[tuple[Path, Node]]:
    """Resource declarations (not `existing` references) whose type starts with the prefix."""
    return [(path, node) for path in BICEP_FILES for node in _resources_in(path, type_prefix)]


def _resources_in(path: Path, type_prefix: str) -> list[Node]:
    return [
        node
        for node in _walk(_tree_root(path))
        if node.type == "resource_declaration"
        and not any(child.type == "existing" for child in node.children)
        and (_resource_type(node) or "").startswith(type_prefix)
    ]


def _body(declaration: Node) -> Node:
    """The object literal of a resource or module, also behind `if (...)`."""
    for child in declaration.named_children:
        if child.type == "object":
            return child
        if child.type in {"if_statement", "for_statement"}:
            return _body(child)
    raise AssertionError(f"no body in {_text(declaration)[:80]}")


def _property(obj: Node, dotted: str) -> Node:
    node = obj
    for key in dotted.split("."):
        properties = _object_properties(node)
        assert key in properties, f"no {key!r} in {_text(node)[:120]}"
        node = properties[key]
    return node


def _app_settings() -> dict[str, tuple[Path, Node]]:
    """Every app setting the Bicep sets: the host's (functionapp.bicep) and the app's (main)."""
    settings: dict[str, tuple[Path, Node]] = {}
    for path, variable in ((FUNCTION_APP_BICEP, "hostSettings"), (MAIN_BICEP, "appSettings")):
        for name, value in _variable_object(path, variable).items():
            assert name not in settings, f"{name} is set twice"
            settings[name] = (path, value)
    return settings


def _app_setting_literals() -> dict[str, str]:
    literals = {}
    for name, (path, value) in _app_settings().items():
        literal = _literal_value(value, _known_literals(path))
        if literal is not None:
            literals[name] = literal
    return literals


# --- Bicep syntax ------------------------------------------------------------------------------


def test_infra_holds_the_bicep_files_azd_and_the_hooks_deploy() -> None:
    names = {path.relative_to(INFRA).as_posix() for path in BICEP_FILES}
    assert {"main.bicep", "subscription.bicep", "modules/functionapp.bicep"} <= names


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_bicep_file_parses_without_error_or_missing_nodes(path: Path) -> None:
    problems = [
        f"{'MISSING' if node.is_missing else 'ERROR'} at line {node.start_point[0] + 1}, "
        f"column {node.start_point[1] + 1}: {_text(node)[:60]!r}"
        for node in _walk(_tree_root(path))
        if node.is_error or node.is_missing
    ]
    assert not problems, "\n".join(problems)


def test_bicep_uses_no_preview_api_versions() -> None:
    previews = [
        f"{path.relative_to(REPO)}: {resource_type}"
        for path in BICEP_FILES
        for node in _walk(_tree_root(path))
        if node.type == "resource_declaration"
        and "-preview" in (resource_type := _resource_type(node) or "")
    ]
    assert not previews, previews


# --- policy scan (checkov) ---------------------------------------------------------------------


def _network_isolation() -> list[str]:
    """`unshare -rn` (a network namespace with no route out) where the kernel allows it, so the
    scan proves it needs no network; the environment variables below keep it offline anyway."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    probe = subprocess.run([unshare, "-rn", "true"], capture_output=True, check=False)
    return [unshare, "-rn"] if probe.returncode == 0 else []


@pytest.fixture(scope="module")
def checkov_report() -> dict[str, Any]:
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV.relative_to(REPO)}: {SCAN_VENV_HINT}")
    offline = {
        "BC_SKIP_MAPPING": "TRUE",  # no download of check metadata from the vendor's API
        "CKV_SKIP_PACKAGE_UPDATE_CHECK": "TRUE",  # no version check against the registry
        "CHECKOV_NO_OUTPUT": "FALSE",
    }
    command = [str(CHECKOV), "-d", "infra", "--framework", "bicep", "--output", "json"]
    result = subprocess.run(
        [*_network_isolation(), *command, "--skip-download"],
        cwd=REPO,
        env={**os.environ, **offline},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    # checkov exits 0 when every check passed, 1 when one failed; anything else is a crash.
    assert result.returncode in (0, 1), f"checkov failed to run:\n{result.stderr[-3000:]}"
    report = json.loads(result.stdout)
    if isinstance(report, list):
        report = next(r for r in report if r.get("check_type") == "bicep")
    assert isinstance(report, dict) and "results" in report, f"checkov scanned nothing: {report}"
    return report


def test_checkov_scans_every_bicep_file_without_parsing_errors(
    checkov_report: dict[str, Any],
) -> None:
    summary = checkov_report["summary"]
    assert summary["parsing_errors"] == 0, summary
    assert summary["passed"] > 0, summary


def test_checkov_finds_no_failed_policy_check(checkov_report: dict[str, Any]) -> None:
    failed = [
        f"{check['check_id']} {check['check_name']}: {check['file_path']} {check['resource']}"
        for check in checkov_report["results"].get("failed_checks", [])
    ]
    assert not failed, "checkov failed checks:\n" + "\n".join(failed)


def _skip_comments() -> list[tuple[str, str, str]]:
    """(file, check id, reason) of every `checkov:skip` comment in the Bicep."""
    skips = []
    for path in BICEP_FILES:
        for line in path.read_text().splitlines():
            match = SKIP_COMMENT.search(line)
            if match:
                reason = (match.group(2) or "").strip()
                skips.append((f"/{path.relative_to(INFRA).as_posix()}", match.group(1), reason))
    return skips


def test_every_checkov_skip_in_the_bicep_says_why() -> None:
    unexplained = [
        f"{file} {check}" for file, check, reason in _skip_comments() if len(reason) < 30
    ]
    assert not unexplained, f"skips without a reason: {unexplained}"


def test_every_checkov_skip_suppresses_a_check_that_ran(checkov_report: dict[str, Any]) -> None:
    skipped = {
        (check["file_path"], check["check_id"])
        for check in checkov_report["results"].get("skipped_checks", [])
    }
    stale = [
        f"{file} {check}" for file, check, _ in _skip_comments() if (file, check) not in skipped
    ]
    assert not stale, f"skip comments that suppress nothing (remove them): {stale}"


# --- settings agreement ------------------------------------------------------------------------


def test_bicep_sets_exactly_the_settings_the_code_reads_plus_the_hosts() -> None:
    deployed = set(_app_settings())
    expected = (set(setting_names()) - set(LOCAL_ONLY_SETTINGS)) | set(HOST_SETTINGS)
    not_read = sorted(deployed - expected)
    not_set = sorted(expected - deployed)
    assert not not_read and not not_set, (
        f"set by the Bicep but neither read by the code nor on the host allow-list: {not_read}; "
        f"read by the code (or on the host allow-list) but not set by the Bicep: {not_set}"
    )


def test_local_only_settings_are_settings_the_code_reads() -> None:
    assert set(LOCAL_ONLY_SETTINGS) <= set(setting_names())


def test_the_function_app_deploys_the_settings_this_test_reads() -> None:
    # The lists above are what the site gets only if the module passes them on unchanged.
    module = _declaration(MAIN_BICEP, "module", "functionApp")
    assert _text(_property(_body(module), "params.appSettings")) == "appSettings"
    site = next(node for path, node in _resources("Microsoft.Web/sites@"))
    app_settings = _text(_property(_body(site), "properties.siteConfig.appSettings"))
    assert "items(union(hostSettings, appSettings))" in app_settings


@pytest.mark.parametrize(
    ("setting", "expression"),
    [
        ("DEDUPE_TABLE_SERVICE_URI", "storage.outputs.tableEndpoint"),
        ("ALERT_TOPIC_ENDPOINT", "alertTopic.outputs.endpoint"),
        ("AZURE_CLIENT_ID", "identity.properties.clientId"),
        ("CALLBACK_AUDIENCE", "acs.properties.immutableResourceId"),
        ("ALLOWED_TOPICS", "${acsResourceId},${systemTopic.outputs.id}"),
        ("ALERT_WEBHOOK_SECRET", "@Microsoft.KeyVault(SecretUri="),
        ("AzureWebJobsStorage__accountName", "storageAccountName"),
        ("AzureWebJobsStorage__clientId", "identityClientId"),
        ("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "Authorization=AAD"),
    ],
)
def test_azure_setting_comes_from_the_resource_it_names(setting: str, expression: str) -> None:
    _, value = _app_settings()[setting]
    assert expression in _text(value)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("DEDUPE_STORE", "table"),
        ("CALLBACK_JWT_REQUIRED", "true"),
        ("AzureWebJobsStorage__credential", "managedidentity"),
        ("DEDUPE_TABLE_NAME", "acstriagededupe"),
    ],
)
def test_azure_setting_has_its_production_value(setting: str, value: str) -> None:
    assert _app_setting_literals().get(setting) == value


def test_dedupe_table_setting_names_the_table_the_storage_module_creates() -> None:
    module = _declaration(MAIN_BICEP, "module", "storage")
    passed = _text(_property(_body(module), "params.dedupeTableName"))
    assert passed == _text(_app_settings()["DEDUPE_TABLE_NAME"][1]) == "dedupeTableName"
    [(_, table)] = _resources("Microsoft.Storage/storageAccounts/tableServices/tables@")
    assert _text(_property(_body(table), "name")) == "dedupeTableName"


# What the Bicep's expressions give in Azure, in the shape they give it: the literal settings
# are checked together with these, the way the app sees them at cold start.
EXPRESSION_STAND_INS = {
    "CALLBACK_AUDIENCE": "00000000-1111-2222-3333-444444444444",
    "ALERT_TOPIC_ENDPOINT": "https://alerts.swedencentral-1.eventgrid.azure.net/api/events",
    "DEDUPE_TABLE_SERVICE_URI": "https://stacstriage.table.core.windows.net/",
}


def test_literal_azure_settings_start_the_app() -> None:
    from handlers.runtime import Runtime

    app_names = set(setting_names())
    literals = {
        name.lower(): value for name, value in _app_setting_literals().items() if name in app_names
    }
    assert len(literals) >= 10, literals
    stand_ins = {
        name.lower(): value for name, value in EXPRESSION_STAND_INS.items() if name.lower()
        not in literals
    }
    runtime = Runtime.build(load_settings(**literals, **stand_ins))  # raises on any bad value
    assert runtime.authenticator.required


# --- parameters, outputs, azd ------------------------------------------------------------------


def _parameters_file() -> dict[str, Any]:
    parameters: dict[str, Any] = json.loads(PARAMETERS_JSON.read_text())["parameters"]
    return parameters


def test_parameters_file_names_only_parameters_main_bicep_declares() -> None:
    declared = {_name_of(p) for p in _declarations(MAIN_BICEP, "parameter")}
    unknown = sorted(set(_parameters_file()) - declared)
    assert not unknown, f"main.parameters.json sets undeclared parameters: {unknown}"


def test_parameters_file_gives_every_required_parameter_an_azd_value() -> None:
    required = {
        _name_of(p)
        for p in _declarations(MAIN_BICEP, "parameter")
        if not any(c.type == "=" for c in p.children)
    }
    values = _parameters_file()
    missing = sorted(required - set(values))
    assert not missing, f"required parameters azd would not fill: {missing}"
    for name in required:
        assert re.fullmatch(r"\$\{[A-Z_]+(=[^}]*)?\}", values[name]["value"]), values[name]


def test_provisioning_never_creates_the_event_subscription() -> None:
    # Event Grid validates the webhook when the subscription is created, so it comes after the
    # code, from infra/subscription.bicep alone: main.bicep has no switch for it that could stay
    # on in the azd environment after `azd down` and fail the next `azd up`.
    assert not _resources_in(MAIN_BICEP, "Microsoft.EventGrid/systemTopics/eventSubscriptions@")
    modules = {_name_of(m): _text(m.named_children[1]) for m in _declarations(MAIN_BICEP, "module")}
    assert "'subscription.bicep'" not in modules.values()
    declared = {_name_of(p) for p in _declarations(MAIN_BICEP, "parameter")}
    assert "deployEventSubscription" not in declared
    assert "DEPLOY_EVENT_SUBSCRIPTION" not in PARAMETERS_JSON.read_text()


def _subscription_parameters_passed_by(hook: str) -> set[str]:
    script = (HOOKS / hook).read_text()
    return set(re.findall(r'"([A-Za-z]+)=\$', script))


@pytest.mark.parametrize("hook", ["postdeploy.sh", "postdeploy.ps1"])
def test_postdeploy_deploys_the_subscription_template_alone(hook: str) -> None:
    script = (HOOKS / hook).read_text()
    assert "az deployment group create" in script
    assert "subscription.bicep" in script
    provisions = re.search(r"^\s*azd provision", script, re.MULTILINE)
    assert not provisions, "provisioning again would PUT the site just before listKeys"
    declared = {_name_of(p) for p in _declarations(SUBSCRIPTION_BICEP, "parameter")}
    required = {
        _name_of(p)
        for p in _declarations(SUBSCRIPTION_BICEP, "parameter")
        if not any(c.type == "=" for c in p.children)
    }
    passed = _subscription_parameters_passed_by(hook)
    assert passed <= declared, passed - declared
    assert required <= passed, required - passed
    assert {"functionAppResourceGroup", "subscriptionName"} <= passed


def test_both_postdeploy_hooks_pass_the_same_parameters() -> None:
    assert _subscription_parameters_passed_by("postdeploy.sh") == (
        _subscription_parameters_passed_by("postdeploy.ps1")
    )


@pytest.mark.parametrize(
    "output", ["SERVICE_API_NAME", "SERVICE_API_URI", "FUNCTION_APP_URL", "ALERT_TOPIC_ENDPOINT"]
)
def test_main_bicep_outputs(output: str) -> None:
    _declaration(MAIN_BICEP, "output", output)


# Environment values the hooks read that azd itself sets, or the operator (not outputs).
NOT_OUTPUTS = {
    "AZURE_SUBSCRIPTION_ID",
    "AZURE_RESOURCE_GROUP",
    "ACS_RESOURCE_ID",
    "HEALTH_WAIT_ATTEMPTS",
    "HEALTH_WAIT_SECONDS",
    "EVENT_SUBSCRIPTION_ATTEMPTS",
    "EVENT_SUBSCRIPTION_RETRY_SECONDS",
}


@pytest.mark.parametrize("hook", sorted(p.name for p in HOOKS.iterdir()))
def test_hooks_read_only_outputs_main_bicep_declares(hook: str) -> None:
    outputs = {_name_of(o) for o in _declarations(MAIN_BICEP, "output")}
    script = (HOOKS / hook).read_text()
    if hook.endswith(".ps1"):
        read = set(re.findall(r"\$env:([A-Z][A-Z0-9_]+)", script))
        read |= set(re.findall(r"Require '([A-Z][A-Z0-9_]+)'", script))
    else:
        read = set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", script))
        read |= set(re.findall(r"require ([A-Z][A-Z0-9_]+)", script))
    unknown = read - outputs - NOT_OUTPUTS
    assert read and not unknown, (hook, sorted(unknown))


@pytest.mark.parametrize("hook", HOOK_NAMES)
def test_shell_hook_is_executable_posix_shell(hook: str) -> None:
    path = HOOKS / f"{hook}.sh"
    assert path.read_text().startswith("#!/bin/sh\n")
    assert os.access(path, os.X_OK), f"chmod +x {path.relative_to(REPO)}"
    sh = shutil.which("sh")
    assert sh is not None
    result = subprocess.run([sh, "-n", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_preprovision_hook_variables_are_the_parameters_main_bicep_reads() -> None:
    parameters = _parameters_file()
    assert parameters["systemTopicName"]["value"] == "${EVENT_SYSTEM_TOPIC_NAME=}"
    assert (
        parameters["systemTopicResourceGroup"]["value"] == "${EVENT_SYSTEM_TOPIC_RESOURCE_GROUP=}"
    )
    for hook in ("preprovision.sh", "preprovision.ps1"):
        script = (HOOKS / hook).read_text()
        assert "azd env set EVENT_SYSTEM_TOPIC_NAME" in script
        assert "azd env set EVENT_SYSTEM_TOPIC_RESOURCE_GROUP" in script
        assert "az provider register --namespace Microsoft.App" in script
        assert "az eventgrid system-topic list" in script


def _read_yaml_mappings(text: str) -> dict[str, Any]:
    """Nested `key: value` mappings, the only YAML azure.yaml uses (PyYAML is no dependency)."""
    root: dict[str, Any] = {}
    stack: list[tuple[int, dict[str, Any]]] = [(-1, root)]
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        key, colon, value = raw.strip().partition(":")
        assert colon and not key.startswith("- "), f"azure.yaml line {number}: not a mapping"
        while indent <= stack[-1][0]:
            stack.pop()
        parent = stack[-1][1]
        if value.strip():
            parent[key] = value.strip().strip("'\"")
        else:
            parent[key] = {}
            stack.append((indent, parent[key]))
    return root


def test_azure_yaml_deploys_the_repo_as_python_function_service_api() -> None:
    project = _read_yaml_mappings(AZURE_YAML.read_text())
    assert project["services"] == {
        "api": {"project": ".", "language": "python", "host": "function"}
    }
    infra = project["infra"]
    assert (REPO / infra["path"] / f"{infra['module']}.bicep") == MAIN_BICEP


@pytest.mark.parametrize("hook", HOOK_NAMES)
def test_azure_yaml_hooks_point_at_existing_scripts(hook: str) -> None:
    hooks = _read_yaml_mappings(AZURE_YAML.read_text())["hooks"][hook]
    assert hooks["posix"] == {
        "shell": "sh",
        "run": f"infra/hooks/{hook}.sh",
        "continueOnError": "false",
        "interactive": "false",
    }
    assert hooks["windows"]["shell"] == "pwsh"
    assert hooks["windows"]["run"] == f"infra/hooks/{hook}.ps1"
    for platform in ("posix", "windows"):
        assert (REPO / hooks[platform]["run"]).is_file(), hooks[platform]["run"]


def test_azure_yaml_runs_no_other_hooks() -> None:
    assert set(_read_yaml_mappings(AZURE_YAML.read_text())["hooks"]) == set(HOOK_NAMES)


# --- what the Bicep must hold (the deployment's requirements, one row each) --------------------


@pytest.mark.parametrize(
    ("resource_type", "path", "expected"),
    [
        ("Microsoft.Web/serverfarms@", "sku.name", "'FC1'"),
        ("Microsoft.Web/serverfarms@", "sku.tier", "'FlexConsumption'"),
        ("Microsoft.Web/sites@", "properties.httpsOnly", "true"),
        ("Microsoft.Web/sites@", "properties.siteConfig.minTlsVersion", "'1.2'"),
        ("Microsoft.Web/sites@", "identity.type", "'UserAssigned'"),
        ("Microsoft.Web/sites@", "properties.functionAppConfig.runtime.name", "'python'"),
        ("Microsoft.Web/sites@", "properties.functionAppConfig.runtime.version", "'3.11'"),
        (
            "Microsoft.Web/sites@",
            "properties.functionAppConfig.deployment.storage.authentication.type",
            "'UserAssignedIdentity'",
        ),
        ("Microsoft.Storage/storageAccounts@", "properties.allowSharedKeyAccess", "false"),
        ("Microsoft.Storage/storageAccounts@", "properties.minimumTlsVersion", "'TLS1_2'"),
        ("Microsoft.Storage/storageAccounts@", "properties.allowBlobPublicAccess", "false"),
        ("Microsoft.Insights/components@", "properties.DisableLocalAuth", "true"),
        ("Microsoft.Insights/components@", "properties.WorkspaceResourceId", "workspace.id"),
        ("Microsoft.EventGrid/topics@", "properties.inputSchema", "'CloudEventSchemaV1_0'"),
        ("Microsoft.EventGrid/topics@", "properties.disableLocalAuth", "true"),
        ("Microsoft.EventGrid/systemTopics@", "location", "'global'"),
        (
            "Microsoft.EventGrid/systemTopics@",
            "properties.topicType",
            "'Microsoft.Communication.CommunicationServices'",
        ),
        (
            "Microsoft.EventGrid/systemTopics/eventSubscriptions@",
            "properties.deadLetterWithResourceIdentity.identity.type",
            "'SystemAssigned'",
        ),
        (
            "Microsoft.EventGrid/systemTopics/eventSubscriptions@",
            "properties.destination.endpointType",
            "'WebHook'",
        ),
    ],
)
def test_bicep_resource_property(resource_type: str, path: str, expected: str) -> None:
    resources = _resources(resource_type)
    assert resources, f"no {resource_type} resource"
    for _, node in resources:
        assert _text(_property(_body(node), path)) == expected


# siteConfig properties Flex Consumption sites reject with ARM error 51021 in newer regions (older
# regions ignore them); FTP is not offered on Flex at all, the runtime and scale settings live in
# functionAppConfig.
FLEX_REJECTED_SITE_CONFIG = (
    "ftpsState",
    "linuxFxVersion",
    "windowsFxVersion",
    "alwaysOn",
    "use32BitWorkerProcess",
    "netFrameworkVersion",
    "preWarmedInstanceCount",
    "functionsRuntimeScaleMonitoringEnabled",
)


@pytest.mark.parametrize("rejected", FLEX_REJECTED_SITE_CONFIG)
def test_site_config_leaves_out_what_flex_consumption_rejects(rejected: str) -> None:
    for _, node in _resources("Microsoft.Web/sites@"):
        site_config = _object_properties(_property(_body(node), "properties.siteConfig"))
        assert rejected not in site_config


def test_event_subscription_calls_the_eventgrid_route_with_the_host_function_key() -> None:
    [(_, node)] = _resources("Microsoft.EventGrid/systemTopics/eventSubscriptions@")
    url = _text(_property(_body(node), "properties.destination.properties.endpointUrl"))
    assert url.startswith("'https://${app.properties.defaultHostName}/api/eventgrid?code=${")
    assert "listKeys('${app.id}/host/default'" in url and ".functionKeys.default" in url


@pytest.mark.parametrize(
    ("parameter", "default"),
    [
        ("maxDeliveryAttempts", "30"),
        ("eventTimeToLiveInMinutes", "1440"),
    ],
)
def test_event_subscription_retries_for_a_day_before_dead_lettering(
    parameter: str, default: str
) -> None:
    [(_, node)] = _resources("Microsoft.EventGrid/systemTopics/eventSubscriptions@")
    assert _text(_property(_body(node), f"properties.retryPolicy.{parameter}")) == parameter
    assert _param_defaults(SUBSCRIPTION_BICEP)[parameter] == default


def test_event_subscription_filters_the_three_failure_event_types_by_default() -> None:
    default = _declaration(SUBSCRIPTION_BICEP, "parameter", "eventTypes").named_children[-1]
    types = {_string_literal(item) for item in default.named_children}
    assert types == {
        "Microsoft.Communication.SMSDeliveryReportReceived",
        "Microsoft.Communication.CallEnded",
        "Microsoft.Communication.CallParticipantRemoved",
    }


@pytest.mark.parametrize(("role", "role_id"), sorted(REQUIRED_ROLES.items()))
def test_deployment_grants_role(role: str, role_id: str) -> None:
    assert any(role_id in path.read_text() for path in BICEP_FILES), f"{role} is never assigned"


# Regions that offer Flex Consumption (az functionapp list-flexconsumption-locations), canary
# regions left out. azd offers only the @allowed values when it asks for the location.
FLEX_REGIONS = {
    "australiaeast", "australiasoutheast", "brazilsouth", "canadacentral", "centralindia",
    "centralus", "eastasia", "eastus", "eastus2", "francecentral", "germanywestcentral",
    "italynorth", "japaneast", "koreacentral", "northcentralus", "northeurope", "norwayeast",
    "southafricanorth", "southcentralus", "southeastasia", "southindia", "spaincentral",
    "swedencentral", "uaenorth", "uksouth", "ukwest", "westcentralus", "westeurope", "westus",
    "westus2", "westus3",
}  # fmt: skip


def _decorators(path: Path, kind: str, name: str) -> str:
    previous = _declaration(path, kind, name).prev_named_sibling
    assert previous is not None and previous.type == "decorators", f"{name} has no decorators"
    return _text(previous)


def _allowed_values(path: Path, name: str) -> set[str]:
    previous = _declaration(path, "parameter", name).prev_named_sibling
    assert previous is not None
    for decorator in previous.named_children:
        call = decorator.named_children[0]
        if _text(call.named_children[0]) == "allowed":
            array = call.named_children[1].named_children[0]
            return {_string_literal(item) or "" for item in array.named_children}
    raise AssertionError(f"{name} has no @allowed")


def test_location_is_restricted_to_flex_consumption_regions() -> None:
    assert _allowed_values(MAIN_BICEP, "location") == FLEX_REGIONS
    metadata = _decorators(MAIN_BICEP, "parameter", "location")
    assert re.search(r"@metadata\(\{\s*azd: \{\s*type: 'location'\s*\}\s*\}\)", metadata)
    assert _parameters_file()["location"]["value"] == "${AZURE_LOCATION}"


@pytest.mark.parametrize(
    ("path", "parameter"), [(MAIN_BICEP, "storageSkuName"), (STORAGE_BICEP, "skuName")]
)
def test_storage_defaults_to_the_redundancy_every_flex_region_offers(
    path: Path, parameter: str
) -> None:
    # Several Flex regions have no availability zones, hence no ZRS.
    assert _param_defaults(path)[parameter] == "Standard_LRS"
    module = _declaration(MAIN_BICEP, "module", "storage")
    assert _text(_property(_body(module), "params.skuName")) == "storageSkuName"


def test_system_topic_is_created_only_when_none_exists_and_used_where_it_is() -> None:
    module = _declaration(MAIN_BICEP, "module", "systemTopic")
    body = _body(module)
    assert _text(_property(body, "params.create")) == "empty(systemTopicName)"
    assert _text(_property(body, "scope")) == "resourceGroup(systemTopicGroup)"
    topic = INFRA / "modules" / "systemtopic.bicep"
    [created] = _resources_in(topic, "Microsoft.EventGrid/systemTopics@")
    condition = _first_named(created, "if_statement")
    assert condition is not None and _text(condition).startswith("if (create)")
    existing = [
        node
        for node in _walk(_tree_root(topic))
        if node.type == "resource_declaration"
        and any(child.type == "existing" for child in node.children)
    ]
    assert len(existing) == 1 and "if (!create)" in _text(existing[0])


def test_dead_letters_are_written_by_the_system_topics_identity_on_the_container_only() -> None:
    [assignment] = _resources_in(STORAGE_BICEP, "Microsoft.Authorization/roleAssignments@")
    body = _body(assignment)
    assert _text(_property(body, "scope")) == "deadLetterContainer"
    assert _text(_property(body, "properties.principalId")) == "deadLetterWriterPrincipalId"
    module = _body(_declaration(MAIN_BICEP, "module", "storage"))
    passed = _text(_property(module, "params.deadLetterWriterPrincipalId"))
    assert passed == "systemTopic.outputs.principalId"


@pytest.mark.parametrize(
    ("metric", "namespace"),
    [
        ("DeadLetteredCount", "Microsoft.EventGrid/systemTopics"),
        ("DroppedEventCount", "Microsoft.EventGrid/systemTopics"),
        ("DeliveryAttemptFailCount", "Microsoft.EventGrid/systemTopics"),
        ("Http5xx", "Microsoft.Web/sites"),
    ],
)
def test_delivery_health_has_a_metric_alert(metric: str, namespace: str) -> None:
    source = ALERTS_BICEP.read_text()
    assert f"'{metric}'" in source
    assert f"metricNamespace: '{namespace}'" in source


def test_delivery_alerts_watch_the_subscription_the_postdeploy_hook_creates() -> None:
    module = _body(_declaration(MAIN_BICEP, "module", "deliveryAlerts"))
    assert _text(_property(module, "params.eventSubscriptionName")) == "eventSubscriptionName"
    assert _text(_property(module, "params.systemTopicId")) == "systemTopic.outputs.id"
    assert _param_defaults(MAIN_BICEP)["eventSubscriptionName"] == "acs-triage"
    assert _param_defaults(SUBSCRIPTION_BICEP)["subscriptionName"] == "acs-triage"
    output = _declaration(MAIN_BICEP, "output", "EVENT_SUBSCRIPTION_NAME")
    assert _text(output.named_children[-1]) == "eventSubscriptionName"
    [loop] = [
        n
        for n in _resources_in(ALERTS_BICEP, "Microsoft.Insights/metricAlerts@")
        if "deliveryMetrics" in _text(n)
    ]
    criterion = _text(_property(_body(loop), "properties.criteria"))
    assert "name: 'EventSubscriptionName'" in criterion
    assert "toUpper(eventSubscriptionName)" in criterion


def test_action_group_exists_only_with_an_email_address() -> None:
    [group] = _resources_in(ALERTS_BICEP, "Microsoft.Insights/actionGroups@")
    condition = _first_named(group, "if_statement")
    assert condition is not None and _text(condition).startswith("if (!empty(alertEmail))")
    assert _param_defaults(MAIN_BICEP)["alertEmail"] == ""
    assert _parameters_file()["alertEmail"]["value"] == "${ALERT_EMAIL=}"
    for alert in _resources_in(ALERTS_BICEP, "Microsoft.Insights/metricAlerts@"):
        assert _text(_property(_body(alert), "properties.actions")) == "actions"
    assert "var actions = empty(alertEmail) ? [] : [" in ALERTS_BICEP.read_text()


def test_webhook_secret_parameter_is_secure() -> None:
    param = _declaration(MAIN_BICEP, "parameter", "alertWebhookSecret")
    decorators = param.prev_named_sibling
    assert decorators is not None and "@secure()" in _text(decorators)


# --- local.settings.example.json ---------------------------------------------------------------


def _local_example_values() -> dict[str, str]:
    example = json.loads(LOCAL_SETTINGS_EXAMPLE.read_text())
    assert example["IsEncrypted"] is False
    values: dict[str, str] = example["Values"]
    return values


def test_local_settings_example_lists_every_setting_and_only_those() -> None:
    names = set(_local_example_values())
    expected = set(setting_names()) | LOCAL_HOST_SETTINGS
    assert names == expected, (sorted(names - expected), sorted(expected - names))


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("FUNCTIONS_WORKER_RUNTIME", "python"),
        ("AzureWebJobsStorage", "UseDevelopmentStorage=true"),
        ("CALLBACK_JWT_REQUIRED", "false"),
        ("ALERT_FILE", "alerts.jsonl"),
        ("DEDUPE_STORE", "memory"),
    ],
)
def test_local_settings_example_value(setting: str, value: str) -> None:
    assert _local_example_values()[setting] == value


def test_local_settings_example_passes_the_apps_own_validation() -> None:
    app_names = set(setting_names())
    values = {k.lower(): v for k, v in _local_example_values().items() if k in app_names}
    settings = load_settings(**values)
    assert settings.alert_file == Path("alerts.jsonl")
