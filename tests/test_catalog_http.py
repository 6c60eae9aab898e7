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


def test_an_action_asks_as_a_failed_event_of_that_action_would() -> None:
    response = get(code="408", subcode="8565", action="play")
    assert response.status == 200
    assert body(response) == get_catalog().explain(408, 8565, action="play").to_json()
    (meaning,) = body(response)["meanings"]
    assert (meaning["table"], meaning["action"]) == ("action-play", "play")


def test_a_status_asks_the_tables_keyed_by_status() -> None:
    response = get(status="quarantined")
    assert response.status == 200
    (meaning,) = body(response)["meanings"]
    assert (meaning["rule"], meaning["category"]) == ("status", "UnexpectedClientError")
    assert body(get(status="Bounced", source="email-delivery"))["query"]["status"] == "Bounced"


@pytest.mark.parametrize(
    ("params", "status", "detail"),
    [
        ({"status": "Sent"}, 404, "status 'Sent' is unknown"),
        ({"status": "Bounced", "source": "call-end"}, 404, "status 'Bounced' is unknown"),
        ({"code": "400", "status": "Bounced"}, 400, "the query needs a code, or a status"),
        ({"code": "400", "action": "fax"}, 400, "action 'fax' is not one of: play, "),
        ({"code": "400", "action": "play", "source": "call-end"}, 400, "give an action or a"),
    ],
)
def test_a_status_or_an_action_the_catalog_cannot_take_is_a_problem(
    params: dict[str, str], status: int, detail: str
) -> None:
    response = get(**params)
    assert (response.status, response.mimetype) == (status, PROBLEM_JSON)
    assert body(response)["detail"].startswith(detail)
