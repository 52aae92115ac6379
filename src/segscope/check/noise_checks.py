"""Annotation noise: tiny isolated fragments and one-pixel-thick slivers, counted per image."""

from __future__ import annotations

from collections import Counter

from ._registry import CheckContext, Finding, check


def _noise_finding(ctx: CheckContext, check_id: str, attr: str, what: str, fix: str):
    per_image = {}
    per_class: Counter = Counter()
    for p in ctx.profiles:
        counts = getattr(p, attr)
        if counts:
            per_image[ctx.fname(p)] = int(sum(counts.values()))
            for cls, n in counts.items():
                per_class[ctx.spec.names[cls]] += n
    if not per_image:
        return
    total = sum(per_image.values())
    worst = sorted(per_image.items(), key=lambda kv: (-kv[1], kv[0]))
    top = ", ".join(f"{n} ({c})" for n, c in worst[:3])
    classes = ", ".join(f"{n} {c}" for n, c in per_class.most_common(4))
    yield Finding(
        check_id, "note",
        f"{total} {what} in {len(per_image)} mask(s); most in {top}; by class: {classes}",
        fix,
        [n for n, _ in worst],
        {"total": total, "per_image": dict(worst), "per_class": dict(per_class)},
    )


@check("fragments", "note", "tiny isolated fragments")
def fragments(ctx: CheckContext):
    n = ctx.options.min_fragment
    yield from _noise_finding(
        ctx, "fragments", "fragments",
        f"tiny region(s) below {n} px",
        "remove specks with a small majority filter, or lower --min-fragment if objects this small are real",
    )


@check("slivers", "note", "one-pixel-thick slivers along label edges")
def slivers(ctx: CheckContext):
    yield from _noise_finding(
        ctx, "slivers", "slivers",
        "one-pixel-thick region(s)",
        "look for gaps or overlaps where polygons share an edge; thin structures (poles, wires) show up here too",
    )
