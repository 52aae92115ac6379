"""YAML parsed with libyaml where PyYAML has it (tens of times faster on a spec of thousands of
classes), with PyYAML's own parser otherwise; the same objects either way."""

from __future__ import annotations


def safe_load(text: str):
    """``yaml.safe_load(text)``, through ``CSafeLoader`` when it exists.

    >>> safe_load("classes: [{id: 0, name: road}]")
    {'classes': [{'id': 0, 'name': 'road'}]}
    """
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
