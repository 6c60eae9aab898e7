"""The offline Bicep type check: the templates pass it, and broken copies of them do not.

The checker (tests/bicep_typecheck.py) reads Azure's generated type definitions from
tests/data/bicep-types (see SOURCE.md there). Each broken template below is a copy of the real
infra/ folder with one deliberate mistake, so a checker that stopped looking would fail here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.bicep_typecheck import (
    TYPES_DIR,
    Finding,
    TypeLibrary,
    check_file,
    main,
    trim_table,
    used_resource_types,
)

REPO = Path(__file__).resolve().parent.parent
INFRA = REPO / "infra"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))


@pytest.fixture(scope="module")
def library() -> TypeLibrary:
    return TypeLibrary(TYPES_DIR)


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_bicep_file_matches_the_azure_type_definitions(path: Path, library: TypeLibrary) -> None:
    findings = check_file(path, library)
    assert not findings, "\n".join(str(f) for f in findings)


def test_type_data_holds_only_the_resource_types_the_templates_use() -> None:
    # The data is trimmed to what the templates use; a type nobody uses is dead weight, and a
    # type the templates use but the data lacks fails the check above as "unknown".
    in_data = set()
    for path in TYPES_DIR.glob("*.json"):
        for entry in json.loads(path.read_text()):
            if entry["$type"] == "ResourceType":
                name, _, version = entry["name"].partition("@")
                in_data.add((name.lower(), version))
    assert in_data == used_resource_types(BICEP_FILES)


def test_type_data_says_where_it_came_from() -> None:
    source = (TYPES_DIR / "SOURCE.md").read_text()
    assert "Azure/bicep-types-az" in source
    assert "MIT" in source


# --- broken copies -------------------------------------------------------------------------


def _broken_copy(tmp_path: Path, file: str, old: str, new: str) -> Path:
    """A copy of infra/ with `old` replaced by `new` once in `file`; the path of that file."""
    copy = tmp_path / "infra"
    shutil.copytree(INFRA, copy)
    target = copy / file
    source = target.read_text()
    assert source.count(old) >= 1, f"{file} no longer contains {old!r}: update this test"
    target.write_text(source.replace(old, new, 1))
    return target


BROKEN = [
    pytest.param(
        "modules/functionapp.bicep",
        "httpsOnly: true",
        "HttpsOnly: true",
        "properties.HttpsOnly: wrong case, the property is 'httpsOnly'",
        id="property-casing",
    ),
    pytest.param(
        "modules/storage.bicep",
        "allowBlobPublicAccess: false",
        "allowPublicBlobs: false",
        "properties.allowPublicBlobs: no such property",
        id="unknown-property",
    ),
    pytest.param(
        "modules/storage.bicep",
        "accessTier: 'Hot'",
        "accessTier: 'Warm'",
        "accessTier: 'Warm' is not one of Hot, Cool, Premium, Cold",
        id="closed-enum",
    ),
    pytest.param(
        "subscription.bicep",
        "endpointType: 'WebHook'",
        "endpointType: 'Webhook'",
        "endpointType: 'Webhook' differs in case from 'WebHook'",
        id="discriminator-casing",
    ),
    pytest.param(
        "modules/storage.bicep",
        "minimumTlsVersion: 'TLS1_2'",
        "minimumTlsVersion: 'tls1_2'",
        "minimumTlsVersion: 'tls1_2' differs in case from 'TLS1_2'",
        id="open-enum-casing",
    ),
    pytest.param(
        "modules/storage.bicep",
        "'Microsoft.Storage/storageAccounts@2024-01-01' = {",
        "'Microsoft.Storage/storageAccounts@2021-13-01' = {",
        "Microsoft.Storage/storageAccounts@2021-13-01: no such API version "
        "(known here: 2024-01-01)",
        id="api-version",
    ),
    pytest.param(
        "modules/alerttopic.bicep",
        "'Microsoft.EventGrid/topics@",
        "'Microsoft.EventGrid/topicz@",
        "Microsoft.EventGrid/topicz: unknown resource type",
        id="resource-type",
    ),
    pytest.param(
        "modules/storage.bicep",
        "days: 7",
        "days: 0",
        "deleteRetentionPolicy.days: 0 is outside [1, 365]",
        id="integer-range",
    ),
    pytest.param(
        "modules/storage.bicep",
        "allowSharedKeyAccess: false",
        "allowSharedKeyAccess: 'false'",
        "allowSharedKeyAccess: expected bool, found string 'false'",
        id="scalar-type",
    ),
    pytest.param(
        "modules/functionapp.bicep",
        "httpsOnly: true",
        "httpsOnly: true\n    state: 'Running'",
        "properties.state is read-only",
        id="read-only",
    ),
    pytest.param(
        "modules/roles.bicep",
        "principalId: identityPrincipalId\n",
        "",
        "properties: required principalId not set",
        id="required-missing",
    ),
    pytest.param(
        "modules/roles.bicep",
        "principalType: 'ServicePrincipal'",
        "principalType: 'ServicePrincipal'\n    principalId: identityPrincipalId",
        "properties.principalId is set twice",
        id="duplicate-key",
    ),
    pytest.param(
        "subscription.bicep",
        "app.properties.defaultHostName",
        "app.properties.defaultHostname",
        "app.properties.defaultHostname: wrong case, the property is 'defaultHostName'",
        id="read-casing",
    ),
    pytest.param(
        "subscription.bicep",
        ".functionKeys.default",
        ".masterKey.default",
        "listKeys(Microsoft.Web/sites/host).masterKey.default: "
        "listKeys(Microsoft.Web/sites/host).masterKey is a string, it has no properties",
        id="function-output-read",
    ),
    pytest.param(
        "subscription.bicep",
        "/host/default', '2024-04-01')",
        "/host/default', '2024-04-02')",
        "listKeys: no such function on Microsoft.Web/sites/host@2024-04-02",
        id="function-api-version",
    ),
    pytest.param(
        "modules/storage.bicep",
        "  'Standard_GRS'\n",
        "  'standard_grs'\n",
        "sku.name (@allowed of skuName): 'standard_grs' differs in case from 'Standard_GRS'",
        id="parameter-allowed-value",
    ),
    pytest.param(
        "modules/alerts.bicep",
        "groupShortName: 'acstriage'",
        "groupShortName: 'acs-triage-ops'",
        "properties.groupShortName: 'acs-triage-ops' is longer than 12",
        id="string-length",
    ),
    pytest.param(
        "modules/alerts.bicep",
        "'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'",
        "'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMetricCriteria'",
        "criteria.odata.type: 'Microsoft.Azure.Monitor.SingleResourceMetricCriteria' is not one of",
        id="discriminator-value",
    ),
    pytest.param(
        "modules/alerts.bicep",
        "useCommonAlertSchema: true",
        "useCommonAlertSchema: 'true'",
        "emailReceivers[0].useCommonAlertSchema: expected bool, found string 'true'",
        id="array-item",
    ),
    pytest.param(
        "main.bicep",
        "storage.outputs.tableEndpoint",
        "storage.outputs.tablesEndpoint",
        "storage.outputs.tablesEndpoint: storage.bicep declares no such output",
        id="module-output",
    ),
    pytest.param(
        "main.bicep",
        "dedupeTableName: dedupeTableName",
        "dedupeTable: dedupeTableName",
        "module storage: storage.bicep declares no parameter dedupeTable",
        id="module-parameter",
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "expected"), BROKEN)
def test_broken_template_fails_the_type_check(
    tmp_path: Path, library: TypeLibrary, file: str, old: str, new: str, expected: str
) -> None:
    broken = _broken_copy(tmp_path, file, old, new)
    findings = [str(f) for f in check_file(broken, library)]
    assert any(expected in f for f in findings), f"expected {expected!r} in {findings}"


def test_integer_parameter_wider_than_the_property_fails(
    tmp_path: Path, library: TypeLibrary
) -> None:
    template = tmp_path / "retention.bicep"
    template.write_text(
        "@minValue(1)\n@maxValue(400)\nparam days int = 7\n"
        "resource account 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {\n"
        "  name: 'stretention'\n"
        "  resource blobs 'blobServices' = {\n"
        "    name: 'default'\n"
        "    properties: {\n"
        "      deleteRetentionPolicy: {\n"
        "        enabled: true\n"
        "        days: days\n"
        "      }\n"
        "    }\n"
        "  }\n"
        "}\n"
    )
    findings = check_file(template, library)
    assert [f.message for f in findings] == [
        "blobs (Microsoft.Storage/storageAccounts/blobServices).properties"
        ".deleteRetentionPolicy.days: parameter days allows [1, 400], the property [1, 365]"
    ]
    assert findings[0] == Finding(template, 11, findings[0].message)


def test_checker_command_exits_1_and_prints_the_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = _broken_copy(tmp_path, "modules/storage.bicep", "accessTier: 'Hot'", "accessTier: 1")
    assert main(["check", str(broken)]) == 1
    assert "accessTier: expected string, found int 1" in capsys.readouterr().out
    assert main(["check", str(INFRA / "main.bicep")]) == 0


def test_trimming_keeps_what_a_used_type_reaches_and_renumbers_it() -> None:
    # Prose descriptions go; a property that happens to be called description stays.
    table: list[dict[str, Any]] = [
        {"$type": "StringType"},
        {"$type": "ObjectType", "name": "Unused", "properties": {}},
        {
            "$type": "ObjectType",
            "name": "Body",
            "properties": {
                "name": {"type": {"$ref": "#/0"}, "flags": 9, "description": "The name"},
                "description": {"type": {"$ref": "#/0"}, "flags": 0, "description": "Prose"},
            },
        },
        {"$type": "ResourceType", "name": "A.B/cs@2020-01-01", "body": {"$ref": "#/2"}},
        {"$type": "ResourceType", "name": "A.B/ds@2020-01-01", "body": {"$ref": "#/1"}},
    ]
    trimmed = trim_table(table, {("a.b/cs", "2020-01-01")})
    assert trimmed == [
        {"$type": "StringType"},
        {
            "$type": "ObjectType",
            "name": "Body",
            "properties": {
                "name": {"type": {"$ref": "#/0"}, "flags": 9},
                "description": {"type": {"$ref": "#/0"}, "flags": 0},
            },
        },
        {"$type": "ResourceType", "name": "A.B/cs@2020-01-01", "body": {"$ref": "#/1"}},
    ]
