"""What a user would write instead of acs-triage, measured as the app is (:mod:`bench.throughput`).

- ``sdk`` (Event Grid schema batches) and ``sdk_cloudevents`` (CloudEvents batches):
  ``json.loads`` of the body, then the SDK's model per event (azure-eventgrid's
  ``EventGridEvent.from_dict``; azure-core's ``CloudEvent.from_dict``, which the Event Grid SDK
  uses for CloudEvents) plus one dictionary lookup of its type: what the SDK's samples show. Two
  rows, because the two cost very differently: one median over both would describe neither.
- ``trigger``: the Functions library's own Event Grid converter
  (``EventGridEventInConverter.decode``), one event per invocation as the built-in Event Grid
  trigger calls it (the host splits the batch and hands over each event's JSON text), plus the
  same lookup. The host's own per-invocation overhead is not counted, so this peer is flattered.

Neither explains a code, masks a number, remembers an id or sends an alert: they are the floor
of reading events with the stack's own tools, not an equivalent of the app.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bench.throughput import BenchError, Way
from bench.workload import Batch

# The dictionary lookup each peer does per event: the event type to the family that reads it.
FAMILY_OF_TYPE: dict[str, str] = {
    "Microsoft.Communication.SMSDeliveryReportReceived": "sms",
    "Microsoft.Communication.CallEnded": "call-end",
    **{
        f"Microsoft.Communication.{name}": "call-automation"
        for name in (
            "CallDisconnected", "CreateCallFailed", "PlayFailed", "PlayCompleted",
            "AddParticipantFailed",
        )
    },
}


def sdk_models(batch: Batch) -> int:
    """azure-eventgrid: one model per event, then the lookup; the number of events read."""
    from azure.core.messaging import CloudEvent
    from azure.eventgrid import EventGridEvent

    found = 0
    if batch.schema == "eventgrid":
        for item in json.loads(batch.body):
            event = EventGridEvent.from_dict(item)
            found += FAMILY_OF_TYPE.get(event.event_type) is not None
    else:
        for item in json.loads(batch.body):
            cloud: CloudEvent[Any] = CloudEvent.from_dict(item)
            found += FAMILY_OF_TYPE.get(cloud.type) is not None
    return found


def trigger_converter(batch: Batch) -> int:
    """azure.functions: the Event Grid trigger's converter, one event per invocation."""
    from azure.functions import meta
    from azure.functions.eventgrid import EventGridEventInConverter

    found = 0
    for text in batch.texts:
        event = EventGridEventInConverter.decode(meta.Datum(text, "json"), trigger_metadata={})
        event_type = event.event_type if hasattr(event, "event_type") else event.type
        found += FAMILY_OF_TYPE.get(event_type) is not None
    return found


def _every_event_read(batch: Batch, answer: object) -> int:
    if answer != batch.events:
        raise BenchError(f"a peer read {answer} of {batch.events} events")
    return 0  # peers send no alerts


def warm_up(batch: Batch) -> None:
    """Import both peers' libraries and run them once: their first-use costs are not per batch."""
    sdk_models(batch)
    trigger_converter(batch)


def peer_ways(batches: list[Batch]) -> list[Way]:
    eventgrid = [batch for batch in batches if batch.schema == "eventgrid"]
    cloudevents = [batch for batch in batches if batch.schema == "cloudevents"]
    peers: list[tuple[str, str, Callable[[Batch], int], list[Batch]]] = [
        ("sdk", "peer: SDK, EventGridEvent", sdk_models, eventgrid),
        ("sdk_cloudevents", "peer: SDK, CloudEvent", sdk_models, cloudevents),
        ("trigger", "peer: Event Grid trigger", trigger_converter, batches),
    ]
    return [
        Way(name, label, handle, _every_event_read, chosen)
        for name, label, handle, chosen in peers
    ]
