"""What must be remembered across deliveries and instances: the dedupe store (in memory per
process, or Azure Table Storage shared by every instance).

May import ``handlers.errors`` and ``handlers.logs`` only: the state knows keys, not events.
"""
