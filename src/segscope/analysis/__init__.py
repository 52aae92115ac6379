"""Findings from pooled states and finished runs, never from pixels.

recommend
    what fixing each error type would gain, top confusions, what to improve next
compare
    two runs side by side: per-class deltas with paired bootstrap intervals
"""
