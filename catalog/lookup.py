"""Looking a code up: what (code, subcode) means for one event family, and by which rule.

:meth:`Catalog.lookup` follows docs/catalog.md "Lookup"; the first rule that finds an entry wins:

0. For a Call Automation event whose action has a table of its own (``action``: play, recognize,
   …; see :data:`ACTION_TABLES`), that table first: ``action-exact`` (code, subcode), then
   ``action-subcode`` (the table's rows written for a subcode with any code). Where the same subcode
   means one thing to an action and another in the generic tables, the action wins (recorded in
   catalog/irregularities.json, ``written_tables``).
1. ``exact``: (code, subcode) in the domain's tables. In the domains without subcodes (provider,
   sms-delivery, advanced-messaging) the code alone, and a subcode given is ignored: those tables
   have none.
2. ``subcode``: the subcode alone, where it names one row (a subcode is one reason, say the
   documents).
3. ``generic-subcode``: the generic subcode table. Its rows have no code, so the match's category is
   the class of the event's code (None when the code has no class).
4. ``generic-code``: the domain's code-only rows, in domain order, then the generic status codes.
5. ``code-class``: 0 and 2xx Success, 4xx ExpectedError, 5xx UnexpectedServerError,
   6xx ExpectedError.
6. ``none``: an unknown code.

Rules 2-4 apply to the call domains only; sms-delivery and advanced-messaging have no code-class
rule either (their codes are not HTTP codes: an unlisted one is unknown). The email-delivery domain
has no codes at all: its reports are looked up by their status word (``status``, any casing), and
an unlisted status is ``none``. Decisions the rules leave open:

- Subcode 0 names no reason (it is the subcode of every success), so rules 0b, 2 and 3 skip it.
- Ties (one subcode in several tables, such as 510403 in call-end and pstn): the pstn table wins for
  PSTN-looking subcodes (500000-599999), else the domain's table order. A subcode written twice in
  the winning table with two meanings (call-automation 8522) is not unique: rule 2 passes it on.
- Advice: the entry's own, else the first entry further down the chain that has some (tie losers
  first, then the later rules), named in ``advice_from``.
- Retry: the entry's verdict; for an entry without a category of its own (a generic subcode) whose
  text settles nothing, and where no entry answers, the verdict of the event's code class.

:meth:`Catalog.explain` answers a person or a program (``python -m catalog explain``,
``GET /api/codes``) with every meaning of a code; :meth:`Explanation.to_json` gives its shape.
Every lookup reads a few dict indexes built once in ``__init__``: constant time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import chain
from typing import Any

from catalog.models import (
    ACTIONS,
    Category,
    Domain,
    Entry,
    Match,
    MatchRule,
    Retry,
    Table,
    code_class,
)
from catalog.retry import retry_of_code_class

GENERIC_CODES = "generic-codes"
GENERIC_SUBCODES = "generic-subcodes"
PSTN = "pstn"
PSTN_SUBCODES = range(500_000, 600_000)
EMAIL_DELIVERY = "email-delivery"
WHATSAPP_CHANNEL = "whatsapp-channel"
# Tables keyed by a status word instead of a code.
STATUS_TABLES = frozenset({EMAIL_DELIVERY})
# The table each Call Automation action reads first (rule 0).
ACTION_TABLES: Mapping[str, str] = {action: f"action-{action}" for action in ACTIONS}
ACS_EVENT_PREFIX = "microsoft.communication."


@dataclass(frozen=True)
class DomainRules:
    """Which tables a domain searches, in order of preference, and which rules apply to it."""

    tables: tuple[str, ...]
    with_subcodes: bool  # the call domains: rules subcode, generic-subcode and generic-code
    with_code_class: bool


DOMAIN_RULES: Mapping[Domain, DomainRules] = {
    Domain.CALL_AUTOMATION: DomainRules(("call-automation", "call-end", PSTN), True, True),
    Domain.CALL_END: DomainRules(("call-end", "calling-sdk", PSTN), True, True),
    Domain.PSTN: DomainRules((PSTN, "call-end"), True, True),
    Domain.SMS_DELIVERY: DomainRules(("sms-delivery",), False, False),
    Domain.PROVIDER: DomainRules(
        ("acs-http", "acs-sms-http", "realtime-sms-http", "chat", "8x8-http", "8x8-api"),
        False,
        True,
    ),
    Domain.EMAIL_DELIVERY: DomainRules((EMAIL_DELIVERY,), False, False),
    Domain.ADVANCED_MESSAGING: DomainRules((WHATSAPP_CHANNEL,), False, False),
}
CALL_DOMAINS = tuple(domain for domain, rules in DOMAIN_RULES.items() if rules.with_subcodes)

_NUMBER = re.compile(r"[0-9]{1,9}")
# Codes in traffic are few, but they come from events, so anyone can send any number: the memo
# of lookups stops growing here (the rest are worked out each time, as before).
LOOKUP_MEMO_MAX_ENTRIES = 4096


def parse_number(text: str) -> int:
    """A code or subcode as a person or a query string writes it: decimal digits only."""
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"{text!r} is not a code: write it in decimal digits")
    return int(text)


@dataclass(frozen=True)
class _Step:
    """What one rule found, best first (the first is the hit, the others tie losers)."""

    rule: MatchRule
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class Meaning:
    """One meaning of a code: a match, and the event families in which it holds."""

    match: Match
    domains: tuple[Domain, ...]

    def to_json(self) -> dict[str, Any]:
        return {"domains": [domain.value for domain in self.domains], **self.match.to_json()}


@dataclass(frozen=True)
class Explanation:
    """Every meaning the catalog knows for a code (and subcode), or a status, optionally in one
    table or for one Call Automation action.

    JSON shape (``to_json``), the same for ``explain --json`` and ``GET /api/codes``::

        {"query": {"code": 410, "subcode": 3100, "source": null, "action": null, "status": null},
         "known": true,          # false: no meaning at all (an unknown code)
         "ambiguous": false,     # true: several meanings; pick one with "source" or "action"
         "meanings": [{"domains": ["call-automation", ...], "rule": "exact",
                       "table": "call-end", "action": null,
                       "category": "UnexpectedClientError", "category_reason": "...",
                       "message": "...", "advice": "...", "advice_from": "call-end:410/3100",
                       "retry": {"verdict": "transient", "reason": "...", "rule": "temporary"},
                       "entry": {<Entry as exported>} or null}]}
    """

    code: int | None
    subcode: int | None
    source: str | None
    meanings: tuple[Meaning, ...]
    action: str | None = None
    status: str | None = None

    @property
    def known(self) -> bool:
        return bool(self.meanings)

    @property
    def ambiguous(self) -> bool:
        return len(self.meanings) > 1

    def to_json(self) -> dict[str, Any]:
        return {
            "query": {
                "code": self.code,
                "subcode": self.subcode,
                "source": self.source,
                "action": self.action,
                "status": self.status,
            },
            "known": self.known,
            "ambiguous": self.ambiguous,
            "meanings": [meaning.to_json() for meaning in self.meanings],
        }


class Catalog:
    """Every entry of every table, indexed for lookups.

    ``entries`` are the transcribed ones (the seed documents' rows), ``written`` those of the
    written tables; ``all_entries`` both, in table order.
    """

    def __init__(
        self, tables: Mapping[str, Table], entries: Iterable[Entry], written: Iterable[Entry] = ()
    ) -> None:
        self.tables = dict(tables)
        self.entries = tuple(entries)
        self.written = tuple(written)
        self.all_entries = self.entries + self.written
        self._by_pair: dict[tuple[str, int, int], list[Entry]] = {}
        self._by_subcode: dict[tuple[str, int], list[Entry]] = {}
        self._code_only: dict[tuple[str, int], list[Entry]] = {}
        self._by_code: dict[tuple[str, int], list[Entry]] = {}
        self._by_status: dict[tuple[str, str], list[Entry]] = {}
        self._memo: dict[tuple[Any, ...], Match] = {}
        for entry in self.all_entries:
            self._index(entry)
        self._action_of_event = {
            event.lower(): table.action
            for table in self.tables.values()
            if table.action is not None
            for event in table.events
        }

    def _index(self, entry: Entry) -> None:
        table, code, subcode = entry.source, entry.code, entry.subcode
        if entry.status is not None:
            self._by_status.setdefault((table, entry.status.lower()), []).append(entry)
        if code is not None and subcode is not None:
            self._by_pair.setdefault((table, code, subcode), []).append(entry)
        if subcode is not None:
            self._by_subcode.setdefault((table, subcode), []).append(entry)
        if code is not None:
            self._by_code.setdefault((table, code), []).append(entry)
            if subcode is None:
                self._code_only.setdefault((table, code), []).append(entry)

    def table_entries(self, table: str) -> tuple[Entry, ...]:
        return tuple(entry for entry in self.all_entries if entry.source == table)

    def action_for_event(self, event_type: str) -> str | None:
        """The action whose table explains an event's failures: ``PlayFailed`` (or
        ``Microsoft.Communication.PlayFailed``) → ``play``; None for an event no table lists."""
        name = event_type.lower().removeprefix(ACS_EVENT_PREFIX)
        return self._action_of_event.get(name)

    # ---- lookup -------------------------------------------------------------------------------

    def lookup(
        self,
        domain: Domain,
        code: int | None,
        subcode: int | None,
        *,
        action: str | None = None,
        status: str | None = None,
    ) -> Match:
        """What (code, subcode), or a status, means for an event of ``domain``; see the module
        docstring. ``action`` (one of ACTIONS) applies to call-automation only.

        A match is immutable and depends on nothing else, so each one is worked out once (walking
        the rules costs as much as all the rest of an event's triage).
        """
        if action is not None and (domain is not Domain.CALL_AUTOMATION or action not in ACTIONS):
            raise ValueError(f"action {action!r} is not a Call Automation action of the catalog")
        key = (domain, code, subcode, action, status.lower() if status else None)
        match = self._memo.get(key)
        if match is None:
            match = self._lookup(domain, code, subcode, action, status)
            if len(self._memo) < LOOKUP_MEMO_MAX_ENTRIES:
                self._memo[key] = match
        return match

    def _lookup(
        self,
        domain: Domain,
        code: int | None,
        subcode: int | None,
        action: str | None,
        status: str | None,
    ) -> Match:
        rules = DOMAIN_RULES[domain]
        if set(rules.tables) <= STATUS_TABLES:
            return self._by_status_word(rules, status)
        steps = chain(self._action_steps(action, code, subcode), self._steps(rules, code, subcode))
        for step in steps:
            if step.entries:
                later = chain(step.entries[1:], chain.from_iterable(rest.entries for rest in steps))
                return self._match(step.rule, step.entries[0], code, later, action)
        return self._by_code_class(rules, code, action)

    def _action_steps(
        self, action: str | None, code: int | None, subcode: int | None
    ) -> Iterator[_Step]:
        """Rule 0: the action's own table, where the event has an action with one."""
        table = ACTION_TABLES.get(action) if action else None
        if table is None or table not in self.tables:
            return
        if code is not None and subcode is not None:
            yield _Step("action-exact", tuple(self._by_pair.get((table, code, subcode), ())))
        if subcode:  # 0 names no reason
            rows = self._by_subcode.get((table, subcode), ())
            yield _Step("action-subcode", tuple(e for e in rows if e.code is None))

    def _steps(self, rules: DomainRules, code: int | None, subcode: int | None) -> Iterator[_Step]:
        """The rules with entries, in order; lazily, so that a hit stops the search."""
        if not rules.with_subcodes:
            yield _Step("exact", self._rows(self._code_only, rules.tables, code))
            return
        order = self._preference(rules.tables, subcode)
        if code is not None and subcode is not None:
            yield _Step("exact", self._rows(self._by_pair, order, (code, subcode)))
        if subcode:  # 0 names no reason
            yield _Step("subcode", self._unique_subcode(order, subcode))
            yield _Step(
                "generic-subcode", tuple(self._by_subcode.get((GENERIC_SUBCODES, subcode), ()))
            )
        yield _Step(
            "generic-code", self._rows(self._code_only, (*rules.tables, GENERIC_CODES), code)
        )

    @staticmethod
    def _preference(tables: tuple[str, ...], subcode: int | None) -> tuple[str, ...]:
        if subcode in PSTN_SUBCODES and PSTN in tables:
            return (PSTN, *(table for table in tables if table != PSTN))
        return tables

    @staticmethod
    def _rows(
        index: Mapping[tuple[Any, ...], list[Entry]], tables: Iterable[str], key: Any
    ) -> tuple[Entry, ...]:
        if key is None:
            return ()
        rest = key if isinstance(key, tuple) else (key,)
        return tuple(chain.from_iterable(index.get((table, *rest), ()) for table in tables))

    def _unique_subcode(self, order: tuple[str, ...], subcode: int) -> tuple[Entry, ...]:
        found = [self._by_subcode.get((table, subcode), []) for table in order]
        found = [rows for rows in found if rows]
        if not found or len(found[0]) > 1:  # nowhere, or two meanings in the preferred table
            return ()
        return tuple(chain.from_iterable(found))

    def _match(
        self,
        rule: MatchRule,
        entry: Entry,
        code: int | None,
        later: Iterable[Entry],
        action: str | None = None,
    ) -> Match:
        advice_entry = next((e for e in chain((entry,), later) if e.full_advice), None)
        category, reason = self._category(entry, code)
        return Match(
            rule=rule,
            entry=entry,
            category=category,
            category_reason=reason,
            message=entry.message,
            advice=advice_entry.full_advice if advice_entry else None,
            advice_from=advice_entry.key if advice_entry else None,
            retry=self._retry(entry, code),
            action=action,
        )

    @staticmethod
    def _category(entry: Entry, code: int | None) -> tuple[Category | None, str | None]:
        if entry.category is not None:
            if entry.category_source == "document":
                return entry.category, entry.category_reason or "as the document gives it"
            return entry.category, entry.category_reason
        by_class = code_class(code)
        if by_class is None:
            no_class = "" if code is None else f"; the event's code {code} has no class"
            return None, f"{entry.category_reason}{no_class}"
        return by_class[0], f"from the event's code: {by_class[1]}"

    @staticmethod
    def _retry(entry: Entry, code: int | None) -> Retry:
        """The entry's verdict; a generic subcode whose words settle nothing borrows the code's,
        as it borrows its category."""
        if entry.category is not None or entry.retry.verdict != "unknown" or code is None:
            return entry.retry
        by_class = retry_of_code_class(code)
        return by_class.model_copy(update={"reason": f"from the event's code: {by_class.reason}"})

    @staticmethod
    def _by_code_class(rules: DomainRules, code: int | None, action: str | None = None) -> Match:
        by_class = code_class(code) if rules.with_code_class else None
        if by_class is None:
            return Match(rule="none", action=action)
        return Match(
            rule="code-class",
            category=by_class[0],
            category_reason=by_class[1],
            retry=retry_of_code_class(code),
            action=action,
        )

    def _by_status_word(self, rules: DomainRules, status: str | None) -> Match:
        found = self._rows(self._by_status, rules.tables, status.lower() if status else None)
        if not found:
            return Match(rule="none")
        return self._match("status", found[0], None, found[1:])

    # ---- explain ------------------------------------------------------------------------------

    def explain(
        self,
        code: int,
        subcode: int | None = None,
        source: str | None = None,
        *,
        action: str | None = None,
    ) -> Explanation:
        """Every meaning of ``code`` (and ``subcode``), for a person or a program.

        - ``source``: what that one table says (raises KeyError for a table the catalog lacks).
        - ``action``: the Call Automation lookup for an event of that action (its table first).
        - a subcode: the lookup in each call domain, the domains that agree grouped together, and
          what each action's table says where it has a row for it.
        - a code alone: every row, of every domain, that the code alone reaches (a code found in
          several tables is ambiguous: ``explain 2000`` is SMS 2000 and 8x8 API 2000), else the
          code's class.
        """
        if source is not None:
            if source not in self.tables:
                raise KeyError(source)
            meanings = self._in_table(source, code, subcode)
        elif action is not None:
            meanings = _grouped(
                [
                    (
                        self.lookup(Domain.CALL_AUTOMATION, code, subcode, action=action),
                        Domain.CALL_AUTOMATION,
                    )
                ]
            )
        elif subcode is not None:
            in_domains = ((self.lookup(domain, code, subcode), domain) for domain in CALL_DOMAINS)
            meanings = _grouped(chain(self._in_action_tables(code, subcode), in_domains))
        else:
            meanings = self._for_code(code)
        return Explanation(code, subcode, source, meanings, action=action)

    def explain_status(self, status: str, source: str | None = None) -> Explanation:
        """What a status word means in the tables keyed by status (``Bounced`` in email-delivery);
        ``source`` must be one of them (raises KeyError otherwise)."""
        if source is not None and (source not in self.tables or source not in STATUS_TABLES):
            raise KeyError(source)
        found = [
            (self.lookup(domain, None, None, status=status), domain)
            for domain, rules in DOMAIN_RULES.items()
            if set(rules.tables) <= STATUS_TABLES and (source is None or source in rules.tables)
        ]
        return Explanation(None, None, source, _grouped(found), status=status)

    def _in_action_tables(self, code: int, subcode: int) -> Iterator[tuple[Match, Domain]]:
        """The action lookups that an action's own table answers (rule 0), one per action."""
        for action in ACTIONS:
            match = self.lookup(Domain.CALL_AUTOMATION, code, subcode, action=action)
            if match.rule.startswith("action-"):
                yield match, Domain.CALL_AUTOMATION

    def _for_code(self, code: int) -> tuple[Meaning, ...]:
        found: list[tuple[Match, Domain]] = []
        for domain, rules in DOMAIN_RULES.items():
            step = next((step for step in self._steps(rules, code, None) if step.entries), None)
            if step is not None:
                found.extend(
                    (self._match(step.rule, entry, code, ()), domain) for entry in step.entries
                )
        if not found:
            found = [
                (self._by_code_class(rules, code), domain) for domain, rules in DOMAIN_RULES.items()
            ]
        return _grouped(found)

    def _in_table(self, table: str, code: int, subcode: int | None) -> tuple[Meaning, ...]:
        domains = self.domains_of(table)
        action = self.tables[table].action
        if table == GENERIC_SUBCODES:  # no code column: a lone number is the subcode
            number, event_code = (code, None) if subcode is None else (subcode, code)
            rows = self._by_subcode.get((table, number), [])
            return tuple(
                Meaning(self._match("generic-subcode", e, event_code, ()), domains) for e in rows
            )
        if action is not None and subcode is not None:
            step = next((s for s in self._action_steps(action, code, subcode) if s.entries), None)
            found = step.entries if step else ()
            return (
                tuple(Meaning(self._match(step.rule, e, code, (), action), domains) for e in found)
                if step
                else ()
            )
        if subcode is not None:
            exact = self._by_pair.get((table, code, subcode), [])
            alone = self._unique_subcode((table,), subcode) if subcode else ()
            rule: MatchRule = "exact" if exact else "subcode"
            rows = exact or list(alone)
        else:
            rule = "exact" if table not in _CALL_TABLES else "generic-code"
            rows = self._code_only.get((table, code), [])
            if not rows:  # the code only with subcodes: every row of it
                rule, rows = "exact", self._by_code.get((table, code), [])
        return tuple(Meaning(self._match(rule, e, code, ()), domains) for e in rows)

    def domains_of(self, table: str) -> tuple[Domain, ...]:
        """The event families whose lookups read ``table``."""
        if table in (GENERIC_CODES, GENERIC_SUBCODES):
            return CALL_DOMAINS
        if table in ACTION_TABLES.values():
            return (Domain.CALL_AUTOMATION,)
        return tuple(domain for domain, rules in DOMAIN_RULES.items() if table in rules.tables)

    def unknown_message(self, code: int, subcode: int | None, source: str | None) -> str:
        """Why an explanation is empty, and a hint where the number is known as a subcode."""
        where = f" in table {source}" if source else ""
        asked = f"code {code}" + (f" with subcode {subcode}" if subcode is not None else "")
        message = f"{asked} is unknown{where}: no row, rule or code class gives it a meaning"
        as_subcode = [
            entry.key for table in self.tables for entry in self._by_subcode.get((table, code), [])
        ]
        if subcode is None and as_subcode:
            message += f"; {code} is a subcode ({', '.join(as_subcode)}): give CODE SUBCODE"
        return message

    def unknown_status_message(self, status: str, source: str | None) -> str:
        """Why a status explanation is empty, and the statuses that are known."""
        tables = [source] if source else sorted(STATUS_TABLES & set(self.tables))
        known = sorted({e.status for t in tables for e in self.table_entries(t) if e.status})
        where = f" in table {source}" if source else ""
        return f"status {status!r} is unknown{where} (known: {', '.join(known)})"


_CALL_TABLES = (
    frozenset(
        chain.from_iterable(rules.tables for rules in DOMAIN_RULES.values() if rules.with_subcodes)
    )
    | {GENERIC_CODES, GENERIC_SUBCODES}
    | set(ACTION_TABLES.values())
)


def _grouped(found: Iterable[tuple[Match, Domain]]) -> tuple[Meaning, ...]:
    """Equal matches once each, in first-seen order, with every domain they hold in."""
    domains: dict[Match, list[Domain]] = {}
    for match, domain in found:
        if match.rule != "none":
            holders = domains.setdefault(match, [])
            if domain not in holders:
                holders.append(domain)
    return tuple(Meaning(match, tuple(holders)) for match, holders in domains.items())
