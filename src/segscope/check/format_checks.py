"""Checks of how masks are stored: readable files, ids and colours the spec knows, one storage
format and one palette across files, and bit depths that hold the ids."""

from __future__ import annotations

from collections import Counter, defaultdict

from ._profile import classify_values
from ._registry import CheckContext, Finding, check, px, some

KIND_NAMES = {
    "index8": "8-bit index PNG",
    "index16": "16-bit index PNG",
    "index32": "32-bit index image",
    "bilevel": "1-bit PNG",
    "palette": "palette PNG",
    "rgb": "RGB colour PNG",
    "rgba": "RGBA colour PNG",
    "jpeg": "JPEG",
}


def kind_name(p) -> str:
    if p.kind == "npy":
        return f".npy ({p.dtype})"
    return KIND_NAMES.get(p.kind, p.kind)


def _hex(code: int) -> str:
    return f"#{int(code):06x}"


@check("unreadable", "error", "files that cannot be read")
def unreadable(ctx: CheckContext):
    if ctx.unreadable:
        reasons = Counter(p.error for p in ctx.unreadable)
        top = "; ".join(f"{r} ({n})" for r, n in reasons.most_common(3))
        yield Finding(
            "unreadable", "error",
            f"{len(ctx.unreadable)} mask file(s) cannot be read as label masks: {top}",
            "re-export these masks as single-channel PNG (or .npy) files, or remove them",
            [ctx.fname(p) for p in ctx.unreadable],
            {"reasons": dict(reasons)},
        )
    bad_images = [p for p in ctx.profiles + ctx.unreadable if p.image_error]
    if bad_images:
        yield Finding(
            "unreadable", "error",
            f"{len(bad_images)} image(s) cannot be read: {bad_images[0].image_error}",
            "replace the damaged image files",
            [ctx.fname(p.image_path) for p in bad_images],
        )


@check("unknown-ids", "error", "label ids the class spec does not know")
def unknown_ids(ctx: CheckContext):
    profiles = ctx.index_profiles()
    pixels: Counter = Counter()
    files_per: Counter = Counter()
    files = []
    for p in profiles:
        vals = list(p.values)
        unknown = [v for v, c in zip(vals, classify_values(ctx.spec, vals).tolist()) if c == -2]
        if unknown:
            files.append(ctx.fname(p))
            for v in unknown:
                pixels[v] += p.values[v]
                files_per[v] += 1
    if not pixels:
        return
    ordered = sorted(pixels, key=lambda v: (-pixels[v], v))
    desc = ", ".join(f"{v} ({px(pixels[v])} in {files_per[v]} mask{'s' if files_per[v] > 1 else ''})" for v in ordered[:5])
    more = f" and {len(ordered) - 5} more" if len(ordered) > 5 else ""
    known = _describe_ids(ctx)
    yield Finding(
        "unknown-ids", "error",
        f"{len(ordered)} label id(s) are not in the class spec ({known}): {desc}{more}",
        "fix the class spec (--classes), or map the ids: segscope convert SRC DST --from index --to index --mapping FILE",
        files,
        {"ids": {int(v): {"pixels": int(pixels[v]), "masks": int(files_per[v])} for v in ordered}},
    )


def _describe_ids(ctx: CheckContext) -> str:
    spec = ctx.spec
    if spec.gt_map is not None:
        raw = sorted(spec.gt_map)
        text = f"raw values {raw[0]}..{raw[-1]}"
    elif spec.ids == tuple(range(spec.num_classes)):
        text = f"ids 0..{spec.num_classes - 1}"
    else:
        text = f"ids {some([str(i) for i in spec.ids], 6)}"
    if spec.ignore_index is not None:
        text += f", ignore {spec.ignore_index}"
    return text


@check("unknown-colours", "error", "colours of colour-coded masks not in the palette")
def unknown_colours(ctx: CheckContext):
    colour = [p for p in ctx.profiles if p.kind in ("rgb", "rgba") or (p.kind == "jpeg" and p.mode.startswith("RGB"))]
    if not colour:
        return
    if not ctx.spec.colors_given:
        yield Finding(
            "unknown-colours", "error",
            f"{len(colour)} mask(s) are colour-coded, but the class spec gives no colours",
            "give a class spec with a colour per class (--classes FILE), or convert: segscope convert SRC DST --from rgb --to index --classes FILE",
            [ctx.fname(p) for p in colour],
        )
        return
    pixels: Counter = Counter()
    files_per: Counter = Counter()
    files = []
    for p in colour:
        if p.unknown_colours:
            files.append(ctx.fname(p))
            pixels.update(p.unknown_colours)
            files_per.update(p.unknown_colours.keys())
    if not pixels:
        return
    ordered = sorted(pixels, key=lambda c: (-pixels[c], c))
    desc = ", ".join(f"{_hex(c)} ({px(pixels[c])})" for c in ordered[:5])
    more = f" and {len(ordered) - 5} more" if len(ordered) > 5 else ""
    yield Finding(
        "unknown-colours", "error",
        f"{len(ordered)} colour(s) in colour-coded masks are not in the class spec's palette: {desc}{more}",
        "add the colours to the class spec, or repaint them; many stray colours mean a lossy save (see lossy-compression)",
        files,
        {"colours": {_hex(c): {"pixels": int(pixels[c]), "masks": int(files_per[c])} for c in ordered[:100]},
         "num_colours": len(ordered)},
    )


@check("mixed-modes", "warning", "masks stored in more than one way")
def mixed_modes(ctx: CheckContext):
    groups: dict[str, list] = defaultdict(list)
    for p in ctx.profiles:
        groups[kind_name(p)].append(p)
    if len(groups) < 2:
        return
    ordered = sorted(groups, key=lambda k: -len(groups[k]))
    major = ordered[0]
    desc = ", ".join(f"{len(groups[k])} × {k}" for k in ordered)
    minority = [ctx.fname(p) for k in ordered[1:] for p in groups[k]]
    yield Finding(
        "mixed-modes", "warning",
        f"masks are stored in {len(groups)} different ways: {desc}",
        f"convert the odd ones out to the common format ({major}), e.g. segscope convert SRC DST --from rgb --to index",
        minority,
        {"modes": {k: len(groups[k]) for k in ordered}},
    )


@check("mixed-palettes", "error", "palette PNGs that disagree on colours")
def mixed_palettes(ctx: CheckContext):
    pal = [p for p in ctx.profiles if p.kind == "palette" and p.palette]
    if len(pal) < 2:
        return
    colours: dict[int, Counter] = defaultdict(Counter)
    for p in pal:
        for idx, c in p.palette.items():
            colours[idx][c] += 1
    clash = {idx: cnt for idx, cnt in colours.items() if len(cnt) > 1}
    if not clash:
        return
    major = {idx: cnt.most_common(1)[0][0] for idx, cnt in clash.items()}
    files = [ctx.fname(p) for p in pal if any(p.palette.get(i, major[i]) != major[i] for i in clash)]
    idx = sorted(clash)[0]
    desc = " and ".join(f"#{r:02x}{g:02x}{b:02x} in {n} mask(s)" for (r, g, b), n in clash[idx].most_common(2))
    yield Finding(
        "mixed-palettes", "error",
        f"palette PNGs disagree on the colour of {len(clash)} index(es): index {idx} is {desc}; "
        "the same index may not mean the same class",
        "decode every file through its colours: segscope convert SRC DST --from palette --to index --classes SPEC",
        files,
        {"indices": sorted(int(i) for i in clash)},
    )


@check("palette-colours", "warning", "palette colours that disagree with the class spec")
def palette_colours(ctx: CheckContext):
    spec = ctx.spec
    pal = [p for p in ctx.profiles if p.kind == "palette" and p.palette]
    if not pal or not spec.colors_given or spec.gt_map is not None:
        return
    colour_of_id = dict(zip(spec.ids, spec.colors))
    id_of_colour = {c: i for i, c in colour_of_id.items()}
    mismatched: Counter = Counter()
    files = []
    example = None
    for p in pal:
        used = {i: c for i, c in p.palette.items() if i != spec.ignore_index}
        if all(c == (i, i, i) or c == (0, 0, 0) for i, c in used.items()):
            continue  # a grey or empty palette carries no colour meaning
        bad = {i: c for i, c in used.items() if i in colour_of_id and c != colour_of_id[i]}
        if bad:
            files.append(ctx.fname(p))
            mismatched.update(bad.keys())
            if example is None:
                i, c = sorted(bad.items())[0]
                other = id_of_colour.get(c)
                example = f"index {i} ({spec.names[spec.ids.index(i)]}) is drawn #{c[0]:02x}{c[1]:02x}{c[2]:02x}"
                if other is not None:
                    example += f", the colour of {spec.names[spec.ids.index(other)]!r} (id {other})"
    if not files:
        return
    yield Finding(
        "palette-colours", "warning",
        f"{len(files)} palette PNG(s) draw {len(mismatched)} class id(s) in colours other than the class spec's: {example}",
        "if the colours are right, decode through them: segscope convert SRC DST --from palette --to index --classes SPEC; "
        "if the indices are right, this is only cosmetic",
        files,
        {"ids": sorted(int(i) for i in mismatched)},
    )


@check("bit-depth", "warning", "bit depths that surprise loaders")
def bit_depth(ctx: CheckContext):
    spec = ctx.spec
    top_id = max(list(spec.ids) + ([spec.ignore_index] if spec.ignore_index is not None else []))
    if spec.gt_map:
        top_id = max(list(spec.gt_map) + [top_id])
    eight = [p for p in ctx.profiles if p.kind in ("index8", "palette", "bilevel")]
    if top_id > 255 and eight:
        yield Finding(
            "bit-depth", "error",
            f"{len(eight)} mask(s) are 8-bit, but the class spec uses ids up to {top_id}",
            "export the masks as 16-bit PNG (or .npy) so every id fits",
            [ctx.fname(p) for p in eight],
        )
    wide = [p for p in ctx.profiles if p.kind in ("index16", "index32") and max(p.values, default=0) < 256]
    if wide:
        yield Finding(
            "bit-depth", "warning",
            f"{len(wide)} mask(s) are {'16' if wide[0].kind == 'index16' else '32'}-bit but hold only values below 256; "
            "loaders that read images as 8-bit (e.g. OpenCV's default) scale them to 0",
            "save them as 8-bit PNG: segscope convert SRC DST --from index --to index",
            [ctx.fname(p) for p in wide],
        )
    floats = [p for p in ctx.profiles if p.kind == "npy" and p.dtype.startswith("float")]
    if floats:
        yield Finding(
            "bit-depth", "warning",
            f"{len(floats)} .npy mask(s) store labels as {floats[0].dtype}",
            "store labels as integers (uint8/uint16): segscope convert SRC DST --from index --to index",
            [ctx.fname(p) for p in floats],
        )
    bilevel = [p for p in ctx.profiles if p.kind == "bilevel"]
    if bilevel:
        yield Finding(
            "bit-depth", "note",
            f"{len(bilevel)} mask(s) are 1-bit images (read as 0/1)",
            "nothing to do if the classes are 0 and 1",
            [ctx.fname(p) for p in bilevel],
        )
    transparent = [p for p in ctx.profiles if p.transparent_pixels]
    if transparent:
        yield Finding(
            "bit-depth", "warning",
            f"{len(transparent)} RGBA mask(s) have transparent pixels ({px(sum(p.transparent_pixels for p in transparent))}); "
            "the alpha channel is not read",
            "flatten the masks to RGB, painting transparent pixels in the ignore colour",
            [ctx.fname(p) for p in transparent],
        )
