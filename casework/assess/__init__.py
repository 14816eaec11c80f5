"""The eligibility and deadline engine: pure functions of (facts, catalog entry, today) -> assessment."""

from casework.assess.engine import AssessmentFacts, assess, consumer_today

__all__ = ["AssessmentFacts", "assess", "consumer_today"]
