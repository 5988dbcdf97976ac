"""The root of the errors of `consumer`: every exception class it defines derives from it.

(tree drawn below once the class lines are done)
"""

__all__ = ["SignalRelayError"]


class SignalRelayError(Exception):
    """Base of every exception the `consumer` package defines."""
