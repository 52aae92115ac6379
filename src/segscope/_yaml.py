"""YAML parsed with libyaml where PyYAML has it (about 6× as fast on a spec of 10,000 classes:
0.45 s against 2.7 s), with PyYAML's own parser otherwise; the same objects either way."""

from __future__ import annotations


def safe_load(text: str):
    """``yaml.safe_load(text)``, through ``CSafeLoader`` when it exists.

    >>> safe_load("classes: [{id: 0, name: road}]")
    {'classes': [{'id': 0, 'name': 'road'}]}
    """
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
