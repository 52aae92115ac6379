"""The classic annotation-standard mistakes, detected from the data: binary masks stored 0/255,
Cityscapes labelIds vs trainIds, an ADE-style zero label, ids shifted by one, lossy saves."""

from __future__ import annotations

from ..classes import CITYSCAPES
from ._registry import CheckContext, Finding, check, some

CITYSCAPES_NAMES = tuple(n for n, _, _ in CITYSCAPES)


def reduces_zero_label(spec) -> bool:
    """True when the spec's raw map is the ADE-style "reduce zero label" (0 -> ignore, v -> v-1).

    >>> from segscope.classes import preset
    >>> reduces_zero_label(preset("ade20k")), reduces_zero_label(preset("voc"))
    (True, False)
    """
    m = spec.gt_map
    if not m or spec.ignore_index is None:
        return False
    if m.get(0) != spec.ignore_index:
        return False
    return all(v == k - 1 for k, v in m.items() if k != 0 and k != spec.ignore_index)


def _shift_mapping(lo: int, hi: int, shift: int) -> str:
    pairs = [f"{v}:{v - shift}" for v in range(lo, hi + 1)]
    if len(pairs) <= 12:
        return "'" + ",".join(pairs) + "'"
    return f"FILE (a YAML map {{v: v{'-' if shift > 0 else '+'}1}})"


@check("binary-255", "error", "binary masks stored as 0/255")
def binary_255(ctx: CheckContext):
    spec = ctx.spec
    if 1 not in spec.ids or 255 in spec.ids or (spec.gt_map and 255 in spec.gt_map):
        return
    profiles = ctx.index_profiles()
    binary = [p for p in profiles if 255 in p.values and set(p.values) <= {0, 255}]
    if not binary:
        return
    two_class = spec.num_classes == 2 and spec.ids == (0, 1)
    ones = ctx.values.get(1, 0)
    if not (two_class or (ones == 0 and len(binary) * 2 >= len(profiles))):
        return
    what = "the ignore label" if spec.ignore_index == 255 else "not a class id"
    yield Finding(
        "binary-255", "error",
        f"{len(binary)} of {len(profiles)} masks hold only 0 and 255: binary masks stored 0/255 for viewing, "
        f"where 255 is {what} and class 1 gets {ones:,} px",
        "map 255 to 1: segscope convert SRC DST --from index --to index --mapping '255:1'",
        [ctx.fname(p) for p in binary],
        {"masks": len(binary), "class_1_pixels": int(ones)},
    )


@check("cityscapes-ids", "error", "Cityscapes labelIds where trainIds are expected, or the reverse")
def cityscapes_ids(ctx: CheckContext):
    spec = ctx.spec
    if spec.names != CITYSCAPES_NAMES:
        return
    profiles = ctx.index_profiles()
    values = {v for v in ctx.values if v != 255}
    if not values:
        return
    if spec.gt_map is not None:  # the spec reads labelIds
        if max(values) <= 18:
            yield Finding(
                "cityscapes-ids", "error",
                f"the masks hold values 0..{max(values)}{' and 255' if 255 in ctx.values else ''} only: "
                "Cityscapes trainIds, but the class spec reads labelIds (7 = road, 26 = car), so most pixels "
                "would be ignored or miscounted",
                "read them as trainIds: --gt-ids train",
                [ctx.fname(p) for p in profiles],
                {"max_value": int(max(values))},
            )
    else:  # the spec reads trainIds
        label_only = {v for v in values if 19 <= v <= 33}
        if label_only and max(values) <= 33:
            files = [ctx.fname(p) for p in profiles if any(19 <= v <= 33 for v in p.values)]
            yield Finding(
                "cityscapes-ids", "error",
                f"the masks hold values up to {max(values)} ({some([str(v) for v in sorted(label_only)], 5)} are no "
                "trainIds): Cityscapes labelIds, but the class spec reads trainIds 0..18",
                "convert them: segscope convert SRC DST --from labelids --to trainids (or read them with --gt-ids label)",
                files,
                {"label_only_values": sorted(int(v) for v in label_only)},
            )


def _contiguous(spec) -> bool:
    return spec.ids == tuple(range(spec.num_classes))


@check("zero-label", "error", "an ADE-style zero label not reduced, or reduced twice")
def zero_label(ctx: CheckContext):
    spec = ctx.spec
    profiles = ctx.index_profiles()
    if not profiles:
        return
    values = ctx.values
    if reduces_zero_label(spec):
        twice = [p for p in profiles if spec.ignore_index in p.values]
        if twice:
            yield Finding(
                "zero-label", "error",
                f"{len(twice)} mask(s) already hold the ignore label {spec.ignore_index}, yet the class spec reduces the "
                "zero label (0 -> ignore, v -> v-1): the labels would be reduced twice, class 0 ignored and every class shifted",
                f"use a spec that reads reduced labels as they are, e.g. --num-classes {spec.num_classes} --ignore-index {spec.ignore_index}",
                [ctx.fname(p) for p in twice],
            )
        return
    if spec.gt_map is not None or not _contiguous(spec):
        return
    k = spec.num_classes
    ign = spec.ignore_index
    unknown = {v for v in values if v != ign and not (0 <= v < k)}
    if unknown != {k}:
        return
    with_zero = sum(1 for p in profiles if 0 in p.values)
    if with_zero * 2 < len(profiles) or (ign is not None and ign in values):
        return
    files = [ctx.fname(p) for p in profiles if k in p.values]
    yield Finding(
        "zero-label", "error",
        f"the masks hold ids 0..{k} for {k} classes, with 0 in {with_zero} of {len(profiles)} masks and no ignore label: "
        "an ADE-style zero label ('other' = 0, classes 1..K) that should be reduced",
        "reduce it: segscope convert SRC DST --from zero-label --to reduced (or use a spec that reduces it, e.g. --classes ade20k)",
        files,
        {"zero_pixels": int(values.get(0, 0)), "masks_with_zero": with_zero},
    )


@check("shifted-ids", "error", "a class id range shifted by one")
def shifted_ids(ctx: CheckContext):
    spec = ctx.spec
    if spec.gt_map is not None:
        return
    ids = set(spec.ids)
    ign = spec.ignore_index
    shifted = {1: [], -1: []}
    for p in ctx.index_profiles():
        used = {v for v in p.values if v != ign}
        if len(used) < 2 or used <= ids:
            continue
        for s in (1, -1):
            if all((v - s) in ids for v in used):
                shifted[s].append(p)
                break
    for s, profs in shifted.items():
        if not profs:
            continue
        used = sorted({v for p in profs for v in p.values if v != ign})
        lo, hi = used[0], used[-1]
        word = "up" if s > 0 else "down"
        yield Finding(
            "shifted-ids", "error",
            f"{len(profs)} mask(s) hold ids {lo}..{hi}, the class spec's ids {min(ids)}..{max(ids)} shifted {word} by one",
            f"map every id back: segscope convert SRC DST --from index --to index --mapping {_shift_mapping(lo, hi, s)}",
            [ctx.fname(p) for p in profs],
            {"shift": s, "ids": [int(v) for v in used]},
        )


def looks_lossy(p) -> bool:
    """The signature of a lossy save in one mask profile.

    Either three or more unknown values that never fill a pixel's whole neighbourhood (they live
    only on edges), or at least 5% of the edge pixels (and 20 px) holding a value strictly between
    their neighbours' values together with ten or more tiny regions or an edge-only unknown value
    (ringing of a JPEG save, the ramps of an interpolating resize). Clean masks, thin classes
    between two others included, show neither."""
    if len(p.stray_values) >= 3:
        return True
    if p.edge_pixels == 0:
        return False
    smeared = p.between_pixels >= 20 and p.between_pixels >= 0.05 * p.edge_pixels
    return smeared and (p.tiny_regions >= 10 or len(p.stray_values) >= 1)


@check("lossy-compression", "error", "masks saved lossily (JPEG or an interpolating resize)")
def lossy_compression(ctx: CheckContext):
    jpeg = [p for p in ctx.profiles + ctx.unreadable if p.kind == "jpeg" or p.path.lower().endswith((".jpg", ".jpeg"))]
    if jpeg:
        yield Finding(
            "lossy-compression", "error",
            f"{len(jpeg)} mask(s) are JPEG files: JPEG changes label values along every edge",
            "re-export the masks as PNG from the original annotations (converting the JPEGs keeps their damage)",
            [ctx.fname(p) for p in jpeg],
        )
    lossy = [p for p in ctx.profiles if p.kind != "jpeg" and looks_lossy(p)]
    if lossy:
        lossy.sort(key=lambda p: -(p.between_pixels + len(p.stray_values)))
        worst = lossy[0]
        yield Finding(
            "lossy-compression", "error",
            f"{len(lossy)} mask(s) show stray intermediate values along label edges, the mark of a JPEG save or an "
            f"interpolating resize (worst: {ctx.fname(worst)}, {worst.between_pixels:,} px between their neighbours' "
            f"values, {worst.tiny_regions} tiny regions, {len(worst.stray_values)} stray ids)",
            "re-export the masks losslessly (PNG) from the original annotations; resize masks with nearest neighbour only",
            [ctx.fname(p) for p in lossy],
            {"per_image": {ctx.fname(p): {"between_pixels": p.between_pixels, "tiny_regions": p.tiny_regions,
                                          "stray_ids": len(p.stray_values)} for p in lossy[:100]}},
        )
