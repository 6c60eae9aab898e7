"""acs-triage: the delivery protocol, event handlers, pipeline, alerts and local host."""

__version__ = "0.1.0"
