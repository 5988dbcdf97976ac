"""Seeded random streams for the relay: a plan, its production, relay kills, and a checker.

`plan.py` decides what a seed's stream holds; `produce.py` writes it (librdkafka batches in a
random codec, hand-built raw batches for what no client writes); `run.py` runs relay processes
over it, SIGKILLs and restarts them, and samples committed offsets; `check.py` judges the
outcome against the plan.
"""
