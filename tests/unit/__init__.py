"""The fast unit layer: the record path against in-memory doubles at its true seams."""
