"""Collection rules for the doctests of ``src/segscope`` (run with the tests)."""

import importlib.util

collect_ignore_glob = []
if importlib.util.find_spec("torch") is None:
    collect_ignore_glob.append("src/segscope/baseline/*.py")
