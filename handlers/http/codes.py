"""``GET /api/codes?code=&subcode=&source=&action=`` or ``GET /api/codes?status=&source=``: what a
code (or an email report's status word) means, for a program.

The body is the JSON of ``python -m catalog explain --json``
(:meth:`catalog.lookup.Explanation.to_json`); ``action`` asks as a failed event of that Call
Automation action would (its table first), as ``explain --action`` does.
Statuses: 200 with the explanation; 400 problem+json for a missing or non-numeric code or subcode,
a code and a status together, or an unknown source table or action; 404 problem+json for a code
or status the catalog cannot explain. An empty parameter counts as absent (``subcode=`` is no
subcode).
"""

from __future__ import annotations

from collections.abc import Mapping

from catalog import get_catalog
from catalog.lookup import STATUS_TABLES, Catalog, Explanation, parse_number
from catalog.models import ACTIONS
from handlers.errors import InvalidCodeQuery, UnknownCode
from handlers.http.messages import Request, Response, json_response
from handlers.http.routes import guarded


def handle_codes(request: Request) -> Response:
    return guarded(lambda: _explained(request.params))


def _explained(params: Mapping[str, str]) -> Response:
    code = _number(params, "code")
    status = params.get("status") or None
    if (code is None) == (status is None):
        raise InvalidCodeQuery(
            "the query needs a code, or a status: /api/codes?code=487&subcode=10004, "
            "/api/codes?status=Bounced"
        )
    catalog = get_catalog()
    source = _source(params, catalog)
    if status is not None:
        return _known(
            catalog.explain_status(status, source) if _status_table(source) else None,
            catalog.unknown_status_message(status, source),
        )
    assert code is not None
    subcode = _number(params, "subcode")
    action = _action(params, source)
    explanation = catalog.explain(code, subcode, source, action=action)
    return _known(explanation, catalog.unknown_message(code, subcode, source))


def _known(explanation: Explanation | None, unknown: str) -> Response:
    if explanation is None or not explanation.known:
        raise UnknownCode(unknown)
    return json_response(explanation.to_json())


def _source(params: Mapping[str, str], catalog: Catalog) -> str | None:
    source = params.get("source") or None
    if source is not None and source not in catalog.tables:
        known = ", ".join(catalog.tables)
        raise InvalidCodeQuery(f"source {source!r} is not a table of the catalog (tables: {known})")
    return source


def _status_table(source: str | None) -> bool:
    """A status is looked up in the tables keyed by status: any source but one of them has none."""
    return source is None or source in STATUS_TABLES


def _action(params: Mapping[str, str], source: str | None) -> str | None:
    action = params.get("action") or None
    if action is None:
        return None
    if action not in ACTIONS:
        raise InvalidCodeQuery(f"action {action!r} is not one of: {', '.join(ACTIONS)}")
    if source is not None:
        raise InvalidCodeQuery("give an action or a source, not both")
    return action


def _number(params: Mapping[str, str], name: str) -> int | None:
    text = params.get(name) or ""
    if not text:
        return None
    try:
        return parse_number(text)
    except ValueError as err:
        raise InvalidCodeQuery(f"{name}: {err}") from err
