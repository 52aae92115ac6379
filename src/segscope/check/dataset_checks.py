"""Checks across the dataset: masks and images that belong together, copies, ignored or empty
masks, and how the classes are spread (the numbers of ``segscope stats``)."""

from __future__ import annotations

from collections import defaultdict

from ._registry import CheckContext, Finding, check, some


@check("size-mismatch", "error", "masks whose size differs from their image")
def size_mismatch(ctx: CheckContext):
    bad = [p for p in ctx.profiles if p.image_shape is not None and p.image_shape != p.shape]
    if not bad:
        return
    p = bad[0]
    yield Finding(
        "size-mismatch", "error",
        f"{len(bad)} mask(s) differ in size from their image (e.g. {ctx.fname(p)}: mask {p.shape[1]}×{p.shape[0]}, "
        f"image {p.image_shape[1]}×{p.image_shape[0]})",
        "resize the masks to their images with nearest-neighbour interpolation, or pair the right files",
        [ctx.fname(q) for q in bad],
        {"per_image": {ctx.fname(q): {"mask": list(q.shape), "image": list(q.image_shape)} for q in bad[:100]}},
    )


@check("missing-pairs", "error", "images without a mask, masks without an image")
def missing_pairs(ctx: CheckContext):
    if ctx.image_ids is None:
        return
    no_image = sorted(set(ctx.mask_ids) - set(ctx.image_ids))
    no_mask = sorted(set(ctx.image_ids) - set(ctx.mask_ids))
    if no_image:
        yield Finding(
            "missing-pairs", "error",
            f"{len(no_image)} mask(s) have no image (ids {some(no_image)})",
            "add the images, remove the stray masks, or strip name suffixes with --suffix/--image-suffix",
            [ctx.fname(ctx.mask_ids[i]) for i in no_image],
        )
    if no_mask:
        yield Finding(
            "missing-pairs", "error",
            f"{len(no_mask)} image(s) have no mask (ids {some(no_mask)})",
            "annotate these images or move them out of the training set",
            [ctx.fname(ctx.image_ids[i]) for i in no_mask],
        )


@check("duplicates", "warning", "masks or images that are copies of each other")
def duplicates(ctx: CheckContext):
    groups = defaultdict(list)
    for p in ctx.profiles:
        if len(p.values) + len(p.unknown_colours) > 1:  # uniform masks are reported as empty
            groups[p.content_hash].append(p)
    dup = [g for g in groups.values() if len(g) > 1]
    if dup:
        files = [ctx.fname(p) for g in dup for p in g]
        ex = " = ".join(ctx.fname(p) for p in dup[0][:3])
        yield Finding(
            "duplicates", "warning",
            f"{sum(len(g) for g in dup)} masks fall into {len(dup)} group(s) of identical pixels (e.g. {ex})",
            "keep one of each group, or check that each copy really belongs to its image",
            files,
            {"groups": [[ctx.fname(p) for p in g] for g in dup[:100]]},
        )
    images = defaultdict(list)
    for p in ctx.profiles:
        if p.image_hash:
            images[p.image_hash].append(p)
    dup = [g for g in images.values() if len(g) > 1]
    if dup:
        ex = " = ".join(ctx.fname(p.image_path) for p in dup[0][:3])
        yield Finding(
            "duplicates", "warning",
            f"{sum(len(g) for g in dup)} images fall into {len(dup)} group(s) of identical files (e.g. {ex}); "
            "copies across a train/val split inflate scores",
            "keep one copy of each image",
            [ctx.fname(p.image_path) for g in dup for p in g],
            {"groups": [[ctx.fname(p.image_path) for p in g] for g in dup[:100]]},
        )


@check("mostly-ignore", "warning", "masks that are mostly the ignore label")
def mostly_ignore(ctx: CheckContext):
    limit = ctx.options.max_ignore
    bad = [
        p for p in ctx.profiles
        if p.total_pixels and limit < p.ignore_pixels / p.total_pixels < 1.0
    ]
    if not bad:
        return
    bad.sort(key=lambda p: -p.ignore_pixels / p.total_pixels)
    worst = bad[0]
    yield Finding(
        "mostly-ignore", "warning",
        f"{len(bad)} mask(s) are more than {limit:.0%} ignore label (worst: {ctx.fname(worst)}, "
        f"{worst.ignore_pixels / worst.total_pixels:.0%})",
        "check that the ignore label is the one you mean (--ignore-index); such images teach the model little",
        [ctx.fname(p) for p in bad],
        {"per_image": {ctx.fname(p): round(p.ignore_pixels / p.total_pixels, 4) for p in bad[:100]}},
    )


@check("empty-masks", "warning", "masks with a single value everywhere")
def empty_masks(ctx: CheckContext):
    spec = ctx.spec
    bad = [p for p in ctx.profiles if p.total_pixels and len(p.values) + len(p.unknown_colours) == 1]
    if not bad:
        return

    def what(p):
        v = next(iter(p.values), None)
        if p.ignore_pixels == p.total_pixels:
            return "all ignore"
        if p.class_pixels is not None and p.class_pixels.max() == p.total_pixels:
            return f"all {spec.names[int(p.class_pixels.argmax())]!r}"
        return f"all value {v}"

    kinds = defaultdict(int)
    for p in bad:
        kinds[what(p)] += 1
    desc = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
    yield Finding(
        "empty-masks", "warning",
        f"{len(bad)} mask(s) hold one value everywhere ({desc})",
        "check that these masks were exported (an unfinished annotation looks like this); keep them only as "
        "deliberate negative examples",
        [ctx.fname(p) for p in bad],
        {"kinds": dict(kinds)},
    )


@check("absent-classes", "warning", "classes that never occur")
def absent_classes(ctx: CheckContext):
    stats = ctx.stats
    absent = stats["absent_classes"]
    if not absent or not stats["num_images"]:
        return
    yield Finding(
        "absent-classes", "warning",
        f"{len(absent)} of {len(stats['classes'])} classes never occur in the {stats['num_images']} masks: {some(absent, 8)}",
        "drop or merge them (segscope convert --mapping), or annotate examples; their IoU is undefined",
        [],
        {"classes": absent},
    )


@check("rare-classes", "warning", "classes found in very few images")
def rare_classes(ctx: CheckContext):
    stats = ctx.stats
    t = ctx.options.min_images
    rare = {n: c for n, c in stats["images_with_class"].items() if 0 < c < t}
    if not rare:
        return
    desc = ", ".join(f"{n} ({c})" for n, c in sorted(rare.items(), key=lambda kv: kv[1])[:8])
    yield Finding(
        "rare-classes", "warning",
        f"{len(rare)} class(es) occur in fewer than {t} of {stats['num_images']} masks: {desc}; their scores rest on a small sample",
        "annotate more images with these classes, merge them into a related class, or read their IoU with care",
        [],
        {"images_with_class": rare},
    )


@check("imbalance", "warning", "extreme class imbalance")
def imbalance(ctx: CheckContext):
    stats = ctx.stats
    ratio = stats["imbalance_ratio"]
    if ratio is None or ratio <= ctx.options.max_imbalance:
        return
    counts = {n: c for n, c in stats["class_counts"].items() if c > 0}
    big = max(counts, key=counts.get)
    small = min(counts, key=counts.get)
    freq = stats["frequency"]
    yield Finding(
        "imbalance", "warning",
        f"the largest class ({big}, {freq[big]:.2%} of labelled pixels) has {ratio:,.0f}× the pixels of the smallest "
        f"({small}, {freq[small]:.4%})",
        "weight the loss (median-frequency weights: segscope stats --json) or sample images with rare classes more often",
        [],
        {"imbalance_ratio": ratio, "largest": big, "smallest": small, "frequency": freq,
         "median_frequency_weights": stats["median_frequency_weights"]},
    )
