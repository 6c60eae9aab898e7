"""Label matchers, as Alertmanager writes them: ``code=503``, ``origin!=microsoft``,
``channel=~"call|sms"``, ``code!~"5.."``.

One model for every way a silence is made (the CLI, ``/api/silences``, the status page's form)
and for the notifier that applies it. It lives with the alert's labels because both the
notification room and the on-call room read it, and neither may import the other. A regular
expression must match the whole value, as in Alertmanager (``=~"call"`` does not match
``callback``); an absent label matches as the empty string. Regular expressions are RE2's, as
Alertmanager's are: matched in linear time, so no pattern (``(a+)+b``) can stall the flusher or
the page by backtracking; RE2 has no backreferences or lookarounds, and refuses them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from handlers.errors import InvalidSilence
from handlers.masking import mask_personal_in

if TYPE_CHECKING:
    import re2

MatchOp = Literal["=", "!=", "=~", "!~"]
# Bounded: an operator's regular expression is matched against every group's labels.
MAX_VALUE_CHARS = 200
LABEL_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_WRITTEN = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*\"?(.*?)\"?\s*$")


@lru_cache(maxsize=256)
def _pattern(value: str) -> re2._Regexp[str]:
    """``value`` compiled by RE2 (imported here: most processes never read a silence's regex)."""
    import re2

    options = re2.Options()
    options.log_errors = False  # a bad pattern is the caller's error, not a line on stderr
    return re2.compile(value, options)


class Matcher(BaseModel):
    """``name op value``; ``=~`` and ``!~`` take a regular expression matched in full."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    name: str = Field(min_length=1, max_length=64, pattern=LABEL_NAME)
    op: MatchOp = "="
    value: str = Field(max_length=MAX_VALUE_CHARS)

    @model_validator(mode="after")
    def _regex_compiles(self) -> Matcher:
        if self.op in ("=~", "!~"):
            import re2

            try:
                _pattern(self.value)
            except re2.error as error:
                why = error.args[0] if error.args else ""
                why = why.decode(errors="replace") if isinstance(why, bytes) else str(why)
                raise ValueError(f"{self.value!r} is not a regular expression: {why}") from None
        return self

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op in ("=", "!="):
            equal = actual == self.value
        else:
            equal = _pattern(self.value).fullmatch(actual) is not None
        return equal if self.op in ("=", "=~") else not equal

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


def parse_matcher(text: str) -> Matcher:
    """One matcher as written: ``code=503``, ``origin!=microsoft``, ``channel=~"call|sms"``."""
    # An error quotes what was written, masked: a value may hold a phone number.
    written = mask_personal_in(text.strip())
    found = _WRITTEN.match(text)
    if found is None:
        raise InvalidSilence(f"{written!r} is not name=value (or !=, =~, !~).")
    name, op, value = found.groups()
    return _matcher({"name": name, "op": op, "value": value}, repr(written))


def parse_matcher_list(text: str) -> tuple[Matcher, ...]:
    """Matchers separated by commas or lines, as the status page's form takes them."""
    parts = [part for part in re.split(r"[,\n]", text) if part.strip()]
    if not parts:
        raise InvalidSilence("A silence needs at least one matcher, such as code=503.")
    return tuple(parse_matcher(part) for part in parts)


def matchers_from_json(value: Any) -> tuple[Matcher, ...]:
    """``{"code": "503"}`` (equality, the first form of the API, and silences stored before
    operators existed) or ``[{"name": "code", "op": "!=", "value": "503"}, ...]``."""
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise InvalidSilence('"matchers" as an object maps label names to string values.')
        items: list[Any] = [{"name": k, "op": "=", "value": v} for k, v in value.items()]
    elif isinstance(value, list):
        items = value
    else:
        raise InvalidSilence(
            '"matchers" is an object of label → value, or a list of {"name", "op", "value"}.'
        )
    if not items:
        raise InvalidSilence("A silence needs at least one matcher, such as code=503.")
    return tuple(_matcher(item, f"matcher {index + 1}") for index, item in enumerate(items))


def _matcher(fields: Any, which: str) -> Matcher:
    try:
        return Matcher.model_validate(fields)
    except ValidationError:
        raise InvalidSilence(f"{which} is not a valid matcher.") from None
