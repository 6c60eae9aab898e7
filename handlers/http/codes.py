"""``GET /api/codes?code=&subcode=&source=``: what a code means, for a program.

The body is the JSON of ``python -m catalog explain --json``
(:meth:`catalog.lookup.Explanation.to_json`).
Statuses: 200 with the explanation; 400 problem+json for a missing or non-numeric code or subcode,
or an unknown source table; 404 problem+json for a code the catalog cannot explain. An empty
parameter counts as absent (``subcode=`` is no subcode).
"""

from __future__ import annotations

from collections.abc import Mapping

from catalog import get_catalog
from catalog.lookup import parse_number
from handlers.errors import InvalidCodeQuery, UnknownCode
from handlers.http.messages import Request, Response, json_response
from handlers.http.routes import guarded


def handle_codes(request: Request) -> Response:
    return guarded(lambda: _explained(request.params))


def _explained(params: Mapping[str, str]) -> Response:
    code = _number(params, "code")
    if code is None:
        raise InvalidCodeQuery("the query needs a code: /api/codes?code=487&subcode=10004")
    subcode = _number(params, "subcode")
    source = params.get("source") or None
    catalog = get_catalog()
    if source is not None and source not in catalog.tables:
        known = ", ".join(catalog.tables)
        raise InvalidCodeQuery(f"source {source!r} is not a table of the catalog (tables: {known})")
    explanation = catalog.explain(code, subcode, source)
    if not explanation.known:
        raise UnknownCode(catalog.unknown_message(code, subcode, source))
    return json_response(explanation.to_json())


def _number(params: Mapping[str, str], name: str) -> int | None:
    text = params.get(name) or ""
    if not text:
        return None
    try:
        return parse_number(text)
    except ValueError as err:
        raise InvalidCodeQuery(f"{name}: {err}") from err
