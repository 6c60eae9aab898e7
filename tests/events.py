"""The event builders the tests use. They live in ``bench/events.py`` because the benchmark
builds its workload from them too: tests may import bench, bench never imports tests."""

from bench.events import ACS_TOPIC, as_cloudevent, call_result, sms_report, validation_event

__all__ = ["ACS_TOPIC", "as_cloudevent", "call_result", "sms_report", "validation_event"]
