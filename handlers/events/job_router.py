"""Job Router failures: a job that could not be classified or scheduled, or an exception rule
that fired.

These events carry no code to look up: their reason is text. ``RouterJobClassificationFailed``
gives ``errors[]`` (each with a ``message`` and, sometimes, a ``code``),
``RouterJobSchedulingFailed`` a ``failureReason``, and ``RouterJobExceptionTriggered`` the rule
that fired (``ruleKey``, ``exceptionRuleId``). The reason becomes the outcome's message (free
text, masked where it leaves the app); the job, channel, queue and policy ids go to the context.
A job's ``labels`` and ``tags`` are the application's own data and may hold anything: they are
not read. Every Job Router event the router does not name here (a job received, queued,
completed, an offer to a worker, …) is a step of the job's life, not a failure, and is ignored.
Keys are read in camelCase or PascalCase.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from handlers.events.outcome import (
    EventModel,
    Family,
    Outcome,
    outcome_for,
    read_data,
    spellings,
)
from handlers.inbound.envelope import Envelope

CLASSIFICATION_FAILED = "routerjobclassificationfailed"
SCHEDULING_FAILED = "routerjobschedulingfailed"
EXCEPTION_TRIGGERED = "routerjobexceptiontriggered"
JOB_ROUTER_FAILURES = (CLASSIFICATION_FAILED, SCHEDULING_FAILED, EXCEPTION_TRIGGERED)


class RouterError(EventModel):
    code: str | int | None = Field(default=None, validation_alias=spellings("code"))
    message: str | None = Field(default=None, validation_alias=spellings("message"))


class RouterJobData(EventModel):
    job_id: str | None = Field(default=None, validation_alias=spellings("jobId"))
    channel_id: str | None = Field(default=None, validation_alias=spellings("channelId"))
    channel_reference: str | None = Field(
        default=None, validation_alias=spellings("channelReference")
    )
    queue_id: str | None = Field(default=None, validation_alias=spellings("queueId"))
    classification_policy_id: str | None = Field(
        default=None, validation_alias=spellings("classificationPolicyId")
    )
    errors: list[RouterError] = Field(default_factory=list, validation_alias=spellings("errors"))
    failure_reason: str | None = Field(default=None, validation_alias=spellings("failureReason"))
    rule_key: str | None = Field(default=None, validation_alias=spellings("ruleKey"))
    exception_rule_id: str | None = Field(
        default=None, validation_alias=spellings("exceptionRuleId")
    )


def handle_job_router_failure(envelope: Envelope, event_name: str) -> Outcome:
    data = read_data(envelope, RouterJobData)
    if isinstance(data, Outcome):
        return data
    return outcome_for(
        envelope,
        "ok",
        family=Family.JOB_ROUTER,
        has_codes=False,
        failed=True,
        message=reason_of(event_name, data),
        context=_context(data),
    )


def reason_of(event_name: str, data: RouterJobData) -> str | None:
    """What the event says went wrong, in its own words; None when it says nothing."""
    if event_name == CLASSIFICATION_FAILED:
        said = [_error_text(error) for error in data.errors]
        return "; ".join(text for text in said if text) or None
    if event_name == SCHEDULING_FAILED:
        return data.failure_reason or None
    rule = data.rule_key or data.exception_rule_id
    return f"exception rule {rule} triggered" if rule else "an exception rule triggered"


def _error_text(error: RouterError) -> str | None:
    code = None if error.code is None else str(error.code)
    if code and error.message:
        return f"{code}: {error.message}"
    return error.message or code


def _context(data: RouterJobData) -> dict[str, Any]:
    context = {
        "jobId": data.job_id,
        "channelId": data.channel_id,
        "channelReference": data.channel_reference,
        "queueId": data.queue_id,
        "classificationPolicyId": data.classification_policy_id,
        "ruleKey": data.rule_key,
        "exceptionRuleId": data.exception_rule_id,
    }
    return {key: value for key, value in context.items() if value is not None}
