"""Consensus between regions: votes to monitor state, incidents and events.

`decision` is the pure rule; `engine` applies it to the database; `processor` runs it in
the ingest transaction; `loop` re-decides what changes with time alone; `events`
documents the payloads written to the outbox.
"""

from picket.collector.consensus.loop import ConsensusLoop
from picket.collector.consensus.processor import ConsensusProcessor

__all__ = ["ConsensusLoop", "ConsensusProcessor"]
