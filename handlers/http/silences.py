"""``/api/silences`` (function key): create, list and expire silences.

    GET    /api/silences[?expired=true]        the silences, active ones (or all)
    POST   /api/silences  {"matchers": {"code": "503", "subcode": "560503"},
                           "duration": "2h", "comment": "known carrier incident",
                           "createdBy": "jane"}                                    → 201
    DELETE /api/silences?id=<id>               ends it now

``matchers`` is an object of label → value (equality), or a list of
``{"name": "origin", "op": "!=", "value": "microsoft"}`` with ``=``, ``!=``, ``=~``, ``!~``.
``createdBy`` is optional (``api`` when absent: a script that silences says so). Bad input is a
400 problem (``invalid-silence``), an unknown id a 404.
"""

from __future__ import annotations

import json
from typing import Any

from handlers.alerting.matchers import matchers_from_json
from handlers.errors import InvalidSilence
from handlers.http.messages import Request, Response, json_response
from handlers.http.routes import guarded
from handlers.notify.silences import Silences, parse_duration
from handlers.runtime import get_runtime

API_AUTHOR = "api"


def handle_silences(request: Request) -> Response:
    return guarded(lambda: _silences(request))


def silences_of_runtime() -> Silences:
    notifier = get_runtime().pipeline.notifier
    if notifier is None or notifier.silences is None:
        raise InvalidSilence("no alert destination is configured: there is nothing to silence")
    return notifier.silences


def _silences(request: Request) -> Response:
    silences = silences_of_runtime()
    method = request.method.upper()
    if method == "GET":
        expired = request.params.get("expired", "").lower() in ("1", "true", "yes")
        return json_response([s.to_json() for s in silences.all(include_expired=expired)])
    if method == "DELETE":
        silence_id = request.params.get("id") or ""
        if not silence_id:
            raise InvalidSilence("DELETE needs the silence's id: /api/silences?id=...")
        return json_response(silences.expire(silence_id).to_json())
    body = _json_object(request.body)
    matchers = matchers_from_json(body.get("matchers"))
    duration, comment = body.get("duration"), body.get("comment")
    if not isinstance(duration, str) or not isinstance(comment, str):
        raise InvalidSilence('"duration" ("2h") and "comment" are required strings')
    author = body.get("createdBy", body.get("created_by", API_AUTHOR))
    if not isinstance(author, str):
        raise InvalidSilence('"createdBy" is a string: who made the silence')
    silence = silences.add(matchers, parse_duration(duration), comment, author)
    return json_response(silence.to_json(), status=201)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"null")
    except (UnicodeDecodeError, ValueError):
        raise InvalidSilence("the body is not JSON") from None
    if not isinstance(value, dict):
        raise InvalidSilence("the body must be a JSON object")
    return value
