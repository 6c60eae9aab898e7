"""Plain HTTP request/response values, so the domain never sees ``azure.functions``.

``function_app.py`` and the local host translate their own request objects into
:class:`Request` and turn a :class:`Response` back into theirs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PROBLEM_JSON = "application/problem+json"
JSON = "application/json"
# RFC 9457 allows any URI; a URN names the problem without pointing at a page we do not run.
PROBLEM_TYPE_BASE = "urn:acs-triage:problem:"


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive header map (HTTP header names are case-insensitive)."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._items: dict[str, tuple[str, str]] = {
            key.lower(): (key, value) for key, value in (items or {}).items()
        }

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()][1]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return (original for original, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    body: bytes = b""
    headers: Headers = field(default_factory=Headers)
    params: Mapping[str, str] = field(default_factory=dict)
    url: str = ""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def mimetype(self) -> str:
        return self.headers.get("Content-Type", JSON).split(";")[0]


def json_response(
    payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    return Response(status, body, {"Content-Type": JSON, **(headers or {})})


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    payload = {
        "type": PROBLEM_TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        **(extra or {}),
    }
    body = json.dumps(payload, ensure_ascii=False, allow_nan=False).encode()
    return Response(status, body, {**(headers or {}), "Content-Type": PROBLEM_JSON})
