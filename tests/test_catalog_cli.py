"""``python -m catalog``: explain for a person and for a program, export, and the exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from catalog import get_catalog
from catalog.models import ALL_TABLE_IDS

REPO = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "catalog", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )


def explained(*args: str) -> dict[str, Any]:
    result = run("explain", *args, "--json")
    assert (result.returncode, result.stderr) == (0, "")
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


def only_meaning(payload: dict[str, Any]) -> dict[str, Any]:
    (meaning,) = payload["meanings"]
    assert (payload["known"], payload["ambiguous"]) == (True, False)
    result: dict[str, Any] = meaning
    return result


def key_of(entry: dict[str, Any]) -> str:
    """An exported entry named as catalog.models.Entry.key names it."""
    code, subcode = ("-" if n is None else n for n in (entry["code"], entry["subcode"]))
    return f"{entry['source']}:{code}/{subcode}"


def test_a_person_reads_message_category_advice_source_and_rule_at_a_glance() -> None:
    result = run("explain", "410", "3100")
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[0] == "code 410, subcode 3100: 1 meaning"
    text = result.stdout
    assert "  message   Call setup failed due to unexpected network problem on the client" in text
    assert (
        "  category  UnexpectedClientError (from the document, written 'UnxpectedClientError')"
        in lines
    )
    assert "  advice    Check network configuration, make sure it follows" in text
    assert "  table     call-end: Calling End call codes and subcodes" in lines
    assert "  document  002_2cef8ca5ec04bd03.txt, line 176" in lines
    assert "  url       https://learn.microsoft.com/" in text
    assert (
        "  retry     transient: the message says 'network problem': the text calls the failure "
        "passing, or tells to try again" in lines
    )
    assert "  match     exact, for call-automation, call-end, pstn events" in lines


def test_a_person_sees_where_borrowed_advice_and_a_derived_category_come_from() -> None:
    text = run("explain", "500", "9999").stdout
    assert "  category  UnexpectedServerError (from the event's code: code class 5xx" in text
    assert "  advice    File a support request through the Azure portal.\n" in text
    assert "(from call-end:500/-)" in text
    assert "  match     generic-subcode, for call-automation, call-end, pstn events" in text


def test_a_person_sees_every_meaning_of_an_ambiguous_code_numbered() -> None:
    text = run("explain", "2000").stdout
    assert text.startswith("code 2000: 2 meanings (several tables give this code: --source")
    assert "[1] sms-delivery:2000/-" in text
    assert "[2] 8x8-api:2000/-" in text


@pytest.mark.parametrize(
    ("args", "rule", "key", "category"),
    [
        (("410", "3100"), "exact", "call-end:410/3100", "UnexpectedClientError"),
        (("503", "560503"), "exact", "pstn:503/560503", "UnexpectedServerError"),
        (("400", "8553"), "generic-subcode", "generic-subcodes:-/8553", "ExpectedError"),
        (("487", "10004", "--source", "call-end"), "exact", "call-end:487/10004", "ExpectedError"),
        (("4007", "--source", "sms-delivery"), "exact", "sms-delivery:4007/-", "ExpectedError"),
        (("4007",), "exact", "sms-delivery:4007/-", "ExpectedError"),
        (("1002",), "exact", "8x8-api:1002/-", "ExpectedError"),
        (("1002", "--source", "8x8-api"), "exact", "8x8-api:1002/-", "ExpectedError"),
    ],
)
def test_a_program_gets_the_meaning_as_json(
    args: tuple[str, ...], rule: str, key: str, category: str
) -> None:
    meaning = only_meaning(explained(*args))
    assert (meaning["rule"], key_of(meaning["entry"]), meaning["category"]) == (rule, key, category)


def test_the_json_shape_is_the_documented_one() -> None:
    payload = explained("410", "3100")
    assert payload["query"] == {
        "code": 410,
        "subcode": 3100,
        "source": None,
        "action": None,
        "status": None,
    }
    meaning = only_meaning(payload)
    assert set(meaning) == {
        "domains",
        "rule",
        "table",
        "action",
        "category",
        "category_reason",
        "message",
        "advice",
        "advice_from",
        "retry",
        "entry",
    }
    assert set(meaning["retry"]) == {"verdict", "reason", "rule"}
    assert meaning["domains"] == ["call-automation", "call-end", "pstn"]
    assert meaning["entry"]["category_raw"] == "UnxpectedClientError"
    assert meaning["entry"]["line"] == 176


def test_a_code_in_several_tables_lists_every_meaning() -> None:
    payload = explained("400")
    assert payload["ambiguous"] is True
    sources = {meaning["entry"]["source"] for meaning in payload["meanings"]}
    assert {"acs-http", "acs-sms-http", "realtime-sms-http", "8x8-http", "generic-codes"} == sources


def test_2000_is_both_sms_delivered_and_8x8_internal_error() -> None:
    payload = explained("2000")
    assert [(m["entry"]["source"], m["category"]) for m in payload["meanings"]] == [
        ("sms-delivery", "Success"),
        ("8x8-api", "UnexpectedServerError"),
    ]


def test_a_code_no_table_lists_is_explained_by_its_class() -> None:
    meaning = only_meaning(explained("499"))
    assert (meaning["rule"], meaning["category"], meaning["entry"]) == (
        "code-class",
        "ExpectedError",
        None,
    )


def test_an_unknown_code_exits_1_with_the_reason_on_stderr() -> None:
    result = run("explain", "1", "1")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("code 1 with subcode 1 is unknown")


def test_a_subcode_given_alone_is_named_as_one() -> None:
    result = run("explain", "3100")
    assert result.returncode == 1
    assert "3100 is a subcode (call-end:410/3100): give CODE SUBCODE" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("explain", "abc"),
        ("explain", "410", "x1"),
        ("explain", "-3"),
        ("explain", "--source", "fax", "4"),
    ],
)
def test_a_code_that_is_not_a_number_or_an_unknown_table_exits_2_with_usage(
    args: tuple[str, ...],
) -> None:
    result = run(*args)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("usage: python -m catalog explain")


def test_export_prints_the_whole_catalog_as_one_json_array() -> None:
    result = run("export")
    assert (result.returncode, result.stderr) == (0, "")
    exported = json.loads(result.stdout)
    assert isinstance(exported, list)
    assert exported == [entry.to_json() for entry in get_catalog().all_entries]
    assert {entry["origin"] for entry in exported} == {"transcribed", "written"}
    required = {"source", "code", "subcode", "message", "category", "category_source", "advice"}
    assert all(required | {"doc", "url", "line"} <= set(entry) for entry in exported)


def test_an_unknown_code_with_json_still_prints_json() -> None:
    result = run("explain", "1", "1", "--json")
    assert result.returncode == 1
    answer = json.loads(result.stdout)
    assert (answer["known"], answer["meanings"]) == (False, [])
    assert answer["query"] == {
        "code": 1, "subcode": 1, "source": None, "action": None, "status": None
    }
    assert answer["reason"].startswith("code 1 with subcode 1 is unknown")


def test_help_lists_the_tables_source_takes() -> None:
    result = run("explain", "--help")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    listed = lines[lines.index("TABLE, for --source, is one of:") + 1 :]
    assert [line.strip() for line in listed] == list(ALL_TABLE_IDS)
    assert "(default: every table)" in result.stdout
