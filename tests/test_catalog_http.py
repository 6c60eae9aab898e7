"""``GET /api/codes``: explain JSON; problem+json for a bad query (400) or unknown code (404)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from catalog import get_catalog
from handlers.http.codes import handle_codes
from handlers.http.messages import JSON, PROBLEM_JSON, PROBLEM_TYPE_BASE, Request, Response


def get(**params: str) -> Response:
    return handle_codes(Request(method="GET", params=params, url="http://127.0.0.1/api/codes"))


def body(response: Response) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(response.body)
    return payload


@pytest.mark.parametrize(
    ("params", "code", "subcode", "source"),
    [
        ({"code": "410", "subcode": "3100"}, 410, 3100, None),
        ({"code": "503", "subcode": "560503"}, 503, 560503, None),
        ({"code": "2000"}, 2000, None, None),
        ({"code": "4007", "source": "sms-delivery"}, 4007, None, "sms-delivery"),
        ({"code": "1002", "subcode": "", "source": ""}, 1002, None, None),
    ],
)
def test_a_known_code_is_answered_200_with_the_explain_json(
    params: dict[str, str], code: int, subcode: int | None, source: str | None
) -> None:
    response = get(**params)
    assert (response.status, response.mimetype) == (200, JSON)
    assert body(response) == get_catalog().explain(code, subcode, source).to_json()


def test_the_answer_names_rule_category_and_entry() -> None:
    meanings = body(get(code="487", subcode="10004"))["meanings"]
    # AnswerFailed's own table gives 487/10004 too: both meanings are answered, each named.
    assert [m["table"] for m in meanings] == ["action-call-setup", "call-end"]
    (meaning,) = [m for m in meanings if m["table"] == "call-end"]
    assert (meaning["rule"], meaning["category"]) == ("exact", "ExpectedError")
    assert (meaning["entry"]["source"], meaning["entry"]["line"]) == ("call-end", 194)


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"code": "1", "subcode": "1"}, "code 1 with subcode 1 is unknown"),
        ({"code": "4011", "source": "sms-delivery"}, "code 4011 is unknown in table sms-delivery"),
        ({"code": "1"}, "code 1 is unknown"),
    ],
)
def test_an_unknown_code_is_404_problem_json(params: dict[str, str], detail: str) -> None:
    response = get(**params)
    assert (response.status, response.mimetype) == (404, PROBLEM_JSON)
    problem = body(response)
    assert problem["status"] == 404
    assert problem["type"].startswith(PROBLEM_TYPE_BASE)
    assert problem["detail"].startswith(detail)


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({}, "the query needs a code"),
        ({"code": ""}, "the query needs a code"),
        ({"code": "abc"}, "code: 'abc' is not a code"),
        ({"code": "-4"}, "code: '-4' is not a code"),
        ({"code": "410", "subcode": "3100x"}, "subcode: '3100x' is not a code"),
        ({"code": "410", "source": "fax"}, "source 'fax' is not a table of the catalog"),
    ],
)
def test_a_bad_query_is_400_problem_json(params: dict[str, str], detail: str) -> None:
    response = get(**params)
    assert (response.status, response.mimetype) == (400, PROBLEM_JSON)
    problem = body(response)
    assert (problem["status"], problem["title"]) == (400, "The code query is not valid")
    assert problem["detail"].startswith(detail)
