"""What must be remembered across deliveries and instances: the claims and the dedupe records
(in memory per process, or Azure Table Storage shared by every instance).

May import ``handlers.errors``, ``handlers.logs`` and ``handlers.deadlines`` only: the state
knows keys, not events.
"""
