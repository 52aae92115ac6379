"""Every convention equals its peer to 1e-9, unrounded, on random data with an absent class, a
predicted-only class and ignore pixels; the peers run themselves wherever they can run here.

Peers that compute in float32 (torchmetrics, mmseg, smp) are run on float64 tensors: their own
code, with only the cast to float32 made a cast to float64, so that 1e-9 is a fair test.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

from segscope import EvalConfig, Evaluation, SegscopeError, schema
from segscope.classes import ClassSpec, cityscapes
from segscope.conventions import compute, explain_rows
from segscope.metrics.conventions import CONVENTIONS, ConventionData, ImageSums, convention_block, parse_convention

K, IGNORE = 6, 255
ABSENT, PRED_ONLY = 4, 5
PEERS = Path(os.environ.get("SEGSCOPE_PEERS", Path(__file__).resolve().parents[2] / ".peers"))


def _data(seed=0, n=5, h=16, w=20, no_class=False):
    rng = np.random.default_rng(seed)
    preds, gts = [], []
    for i in range(n):
        g = rng.choice([0, 1, 2, 3], size=(h, w), p=[0.5, 0.3, 0.15, 0.05]).astype(np.uint8)
        if i == 1:
            g[g == 3] = 0  # class 3 missing from one image's GT
        p = np.where(rng.random((h, w)) < 0.7, g, rng.integers(0, 4, (h, w))).astype(np.uint8)
        if i in (0, 3):
            p[rng.random((h, w)) < 0.05] = PRED_ONLY
        g[rng.random((h, w)) < 0.1] = IGNORE
        if no_class:
            p[rng.random((h, w)) < 0.03] = IGNORE
        preds.append(p)
        gts.append(g)
    return preds, gts


def _ours(preds, gts, *conventions, spec=None):
    ev = Evaluation(spec or ClassSpec.anonymous(K, IGNORE), EvalConfig(analyses=("conventions",),
                                                                        conventions=conventions))
    for i, (p, g) in enumerate(zip(preds, gts)):
        ev.update(p, g, image_id=f"img_{i}")
    return ev.compute()


def _per_class(block):
    return np.array([np.nan if v is None else v for v in block["per_class_iou"].values()])


def _close(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape and np.array_equal(np.isnan(a), np.isnan(b)), (a, b)
    assert np.allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=0, atol=1e-9), (a, b)


@pytest.fixture
def float64_torch():
    torch = pytest.importorskip("torch")
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(old)


def _as_float64(func):
    """The peer's own function, with its casts to float32 made casts to float64."""
    source = inspect.getsource(func).replace(".float()", ".double()")
    scope = dict(func.__globals__)
    exec(compile(source, inspect.getsourcefile(func), "exec"), scope)
    return scope[func.__name__]


def _wheel_file(prefix: str, member: str, tmp_path: Path) -> Path:
    wheels = sorted(PEERS.glob(f"{prefix}-*.whl"))
    if not wheels:
        pytest.skip(f"no {prefix} wheel in {PEERS} (.ci/run downloads it; or set SEGSCOPE_PEERS)")
    with zipfile.ZipFile(wheels[-1]) as z:
        z.extract(member, tmp_path)
    return tmp_path / member


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------- segscope's own block
def test_segscope_block_is_the_core_metrics():
    preds, gts = _data()
    m = _ours(preds, gts)
    block = m["conventions"]["segscope"]
    for key in ("miou", "pixel_accuracy", "mean_accuracy", "fwiou", "miou_image"):
        assert block[key] == m[key], key
    assert block["per_class_iou"] == {n: e["iou"] for n, e in m["per_class"].items()}
    assert block["per_class_iou"][str(ABSENT)] is None and block["per_class_iou"][str(PRED_ONLY)] == 0.0


def test_segscope_block_follows_exclude():
    preds, gts = _data(1)
    ev = Evaluation(ClassSpec.anonymous(K, IGNORE), EvalConfig(analyses=("conventions",), exclude=("0",)))
    for p, g in zip(preds, gts):
        ev.update(p, g)
    m = ev.compute()
    assert all(m["conventions"]["segscope"][k] == m[k] for k in ("miou", "fwiou", "miou_image", "mean_accuracy"))


# ---------------------------------------------------------------------- torchmetrics
@pytest.mark.parametrize("include_background", [True, False])
def test_torchmetrics_meaniou(float64_torch, monkeypatch, include_background):
    torch = float64_torch
    pytest.importorskip("torchmetrics")
    from torchmetrics.segmentation import MeanIoU

    fmod = importlib.import_module("torchmetrics.functional.segmentation.mean_iou")

    monkeypatch.setattr(fmod, "_safe_divide", _as_float64(fmod._safe_divide))
    preds, gts = _data()
    name = f"torchmetrics-meaniou:include_background={str(include_background).lower()}"
    block = _ours(preds, gts, name)["conventions"][name]
    peers = {}
    for per_class in (True, False):
        metric = MeanIoU(num_classes=K, per_class=per_class, include_background=include_background,
                         input_format="index")
        metric.set_dtype(torch.float64)
        for p, g in zip(preds, gts):
            keep = g != IGNORE  # the peer has no ignore label: its pixels are left out
            metric.update(torch.from_numpy(p[keep].astype(np.int64))[None],
                          torch.from_numpy(g[keep].astype(np.int64))[None])
        peers[per_class] = metric.compute().numpy()
    _close(block["miou"], peers[False])
    mine = _per_class(block)
    _close(mine if include_background else mine[1:], peers[True])
    assert (peers[True] == -1).any()  # the absent class takes the peer's fill value


@pytest.mark.parametrize("average", ["macro", "micro", "weighted"])
@pytest.mark.parametrize("zero_division", [0.0, 1.0])
def test_torchmetrics_jaccard(float64_torch, average, zero_division):
    torch = float64_torch
    pytest.importorskip("torchmetrics")
    from torchmetrics.classification import MulticlassJaccardIndex

    jmod = importlib.import_module("torchmetrics.functional.classification.jaccard")

    reduce = _as_float64(jmod._jaccard_index_reduce)
    preds, gts = _data(2)
    name = f"torchmetrics-jaccard-{average}" + (f":zero_division={zero_division:g}" if zero_division else "")
    block = _ours(preds, gts, name)["conventions"][name]
    metric = MulticlassJaccardIndex(num_classes=K, average=average, ignore_index=IGNORE, zero_division=zero_division)
    for p, g in zip(preds, gts):
        metric.update(torch.from_numpy(p.astype(np.int64)), torch.from_numpy(g.astype(np.int64)))
    _close(block["miou"], reduce(metric.confmat, average, IGNORE, zero_division).numpy())
    _close(_per_class(block), reduce(metric.confmat, "none", IGNORE, zero_division).numpy())
    # and the peer's own float32 result agrees to float32 precision
    assert abs(block["miou"] - float(metric.compute())) < 1e-6


# ---------------------------------------------------------------------- segmentation-models-pytorch
@pytest.fixture
def smp(tmp_path, float64_torch):
    path = _wheel_file("segmentation_models_pytorch", "segmentation_models_pytorch/metrics/functional.py", tmp_path)
    return _load(path, "smp_functional")


@pytest.mark.parametrize("reduction", ["micro", "macro", "weighted", "micro-imagewise", "macro-imagewise",
                                       "weighted-imagewise"])
@pytest.mark.parametrize("zero_division", [None, 0.0])
def test_smp_iou_score(smp, float64_torch, reduction, zero_division):
    torch = float64_torch
    preds, gts = _data(3, no_class=True)
    name = f"smp-{reduction}" + ("" if zero_division is None else f":zero_division={zero_division:g}")
    block = _ours(preds, gts, name)["conventions"][name]
    output = torch.from_numpy(np.stack(preds).astype(np.int64))
    target = torch.from_numpy(np.stack(gts).astype(np.int64))
    output[(output == IGNORE) & (target != IGNORE)] = -1  # predicted as no class
    tp, fp, fn, tn = smp.get_stats(output, target, mode="multiclass", ignore_index=IGNORE, num_classes=K)
    kwargs = {} if zero_division is None else {"zero_division": zero_division}
    weights = (tp + fn).sum(0).tolist() if "weighted" in reduction else None
    peer = smp.iou_score(tp, fp, fn, tn, reduction=reduction, class_weights=weights, **kwargs)
    _close(block["miou"], peer.numpy())
    if reduction.endswith("imagewise"):
        per_class = smp.iou_score(tp, fp, fn, tn, reduction="none", **kwargs).mean(0)
    else:
        per_class = smp.iou_score(tp.sum(0), fp.sum(0), fn.sum(0), tn.sum(0), reduction="none", **kwargs)
    _close(_per_class(block), per_class.numpy())


# ---------------------------------------------------------------------- mmsegmentation
@pytest.fixture
def mmseg_metric(tmp_path, float64_torch):
    path = _wheel_file("mmsegmentation", "mmseg/evaluation/metrics/iou_metric.py", tmp_path)
    stubs = {
        "mmengine": {}, "mmengine.dist": {"is_main_process": lambda: True},
        "mmengine.evaluator": {"BaseMetric": type("BaseMetric", (), {"__init__": lambda self, **kw: None})},
        "mmengine.logging": {"MMLogger": object, "print_log": print},
        "mmengine.utils": {"mkdir_or_exist": lambda p: None},
        "prettytable": {"PrettyTable": object}, "mmseg": {},
        "mmseg.registry": {"METRICS": types.SimpleNamespace(register_module=lambda: (lambda cls: cls))},
    }
    saved = {n: sys.modules.get(n) for n in stubs}
    for n, attrs in stubs.items():
        sys.modules[n] = types.SimpleNamespace(**attrs) if attrs or n not in ("mmengine", "mmseg") else \
            types.ModuleType(n)
    try:
        yield _load(path, "mmseg_iou_metric").IoUMetric
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m


@pytest.mark.parametrize("nan_to_num", [None, 0.0, -1.0])
def test_mmseg_iou_metric(mmseg_metric, float64_torch, nan_to_num):
    torch = float64_torch
    preds, gts = _data(4, no_class=True)
    name = "mmseg" if nan_to_num is None else f"mmseg:nan_to_num={nan_to_num:g}"
    block = _ours(preds, gts, name)["conventions"][name]
    areas = [mmseg_metric.intersect_and_union(torch.from_numpy(p.astype(np.int64)),
                                              torch.from_numpy(g.astype(np.int64)), K, IGNORE)
             for p, g in zip(preds, gts)]
    totals = [sum(a[i] for a in areas).double() for i in range(4)]
    ret = mmseg_metric.total_area_to_metrics(*totals, ["mIoU", "mDice", "mFscore"], nan_to_num, 1)
    for key, value in ret.items():  # compute_metrics' summary, unrounded
        mine = block["aAcc" if key == "aAcc" else "m" + key]
        _close(mine, np.nanmean(value))
    _close(_per_class(block), ret["IoU"])
    if nan_to_num is not None:
        assert block["mIoU"] != _ours(preds, gts)["conventions"]["mmseg"]["mIoU"]


# ---------------------------------------------------------------------- Cityscapes
def test_cityscapes_evaluator(tmp_path):
    pytest.importorskip("cityscapesscripts", reason="pip install --no-deps cityscapesscripts pyquaternion")
    from PIL import Image

    ev_mod = pytest.importorskip("cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling")
    rng = np.random.default_rng(5)
    gt_ids = [0, 4, 7, 8, 11, 17, 21, 23, 24, 26, 27, 29]  # void labels, and no bus, train, …
    pred_ids = gt_ids + [28]  # bus predicted, never in GT
    gt_files, pred_files, raw = [], [], []
    for i in range(3):
        g = rng.choice(gt_ids, size=(24, 32)).astype(np.uint8)
        p = np.where(rng.random(g.shape) < 0.6, g, rng.choice(pred_ids, size=g.shape)).astype(np.uint8)
        folder = tmp_path / "gtFine" / "val" / "city"
        folder.mkdir(parents=True, exist_ok=True)
        gf = folder / f"city_000000_{i:06d}_gtFine_labelIds.png"
        pf = tmp_path / "results" / f"city_000000_{i:06d}_pred.png"
        pf.parent.mkdir(exist_ok=True)
        Image.fromarray(g).save(gf)
        Image.fromarray(p).save(pf)
        gt_files.append(str(gf))
        pred_files.append(str(pf))
        raw.append((p, g))
    args = ev_mod.args
    args.evalInstLevelScore, args.JSONOutput, args.quiet = False, False, True
    peer = ev_mod.evaluateImgLists(pred_files, gt_files, args)
    ev = Evaluation(cityscapes(pred_ids="label", gt_ids="label"), EvalConfig(analyses=("conventions",),
                                                                              allow_unknown_pred=True))
    for i, (p, g) in enumerate(raw):
        ev.update(p, g, image_id=str(i))
    block = ev.compute()["conventions"]["cityscapes"]
    _close(block["averageScoreClasses"], peer["averageScoreClasses"])
    _close(block["averageScoreCategories"], peer["averageScoreCategories"])
    _close(_per_class(block), [peer["classScores"][n] for n in block["per_class_iou"]])


def _cityscapes_instance_layout(tmp_path, rng, n=3, h=48, w=64):
    """A generated ``gtFine`` layout with instance maps (id = label id × 1000 + k), predictions
    as label ids, and the instance maps once more under ``inst/<image>.png`` for segscope."""
    from PIL import Image

    stuff = [0, 4, 7, 8, 11, 17, 21, 23]  # void labels and stuff classes
    things = [24, 25, 26, 27, 28, 31, 32, 33, 29]  # person … bicycle, and caravan (not evaluated)
    pred_ids = stuff + [24, 25, 26, 27, 28, 31, 32, 33, 12, 19, 20, 22]  # never caravan or trailer
    out = []
    for i in range(n):
        g = np.kron(rng.choice(stuff, size=(h // 8, w // 8)), np.ones((8, 8), np.int64))
        inst = g.copy()
        for k in range(int(rng.integers(6, 12))):
            lid = int(rng.choice(things[:-1] if i == 0 else things))  # image 0: no caravan
            y, x = rng.integers(0, h - 4), rng.integers(0, w - 4)
            dy, dx = rng.integers(2, 20), rng.integers(2, 24)
            g[y:y + dy, x:x + dx] = lid
            inst[y:y + dy, x:x + dx] = lid * 1000 + k if k % 5 else lid  # some pixels in no instance
        p = np.where(rng.random(g.shape) < 0.6, g, rng.choice(pred_ids, size=g.shape))
        folder = tmp_path / "gtFine" / "val" / "city"
        for sub in (folder, tmp_path / "results", tmp_path / "inst"):
            sub.mkdir(parents=True, exist_ok=True)
        stem = f"city_000000_{i:06d}_gtFine"
        Image.fromarray(g.astype(np.uint8)).save(folder / f"{stem}_labelIds.png")
        Image.fromarray(inst.astype(np.uint16)).save(folder / f"{stem}_instanceIds.png")
        Image.fromarray(inst.astype(np.uint16)).save(tmp_path / "inst" / f"{i}.png")
        Image.fromarray(p.astype(np.uint8)).save(tmp_path / "results" / f"{i}_pred.png")
        out.append((str(tmp_path / "results" / f"{i}_pred.png"), str(folder / f"{stem}_labelIds.png"),
                    p.astype(np.uint8), g.astype(np.uint8)))
    return out


def test_cityscapes_instance_level_scores(tmp_path, monkeypatch):
    pytest.importorskip("cityscapesscripts", reason="pip install --no-deps cityscapesscripts pyquaternion")
    ev_mod = pytest.importorskip("cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling")
    layout = _cityscapes_instance_layout(tmp_path, np.random.default_rng(11))
    args = ev_mod.args
    for key, value in (("evalInstLevelScore", True), ("JSONOutput", False), ("quiet", True)):
        monkeypatch.setattr(args, key, value)
    if not hasattr(np, "in1d"):  # the evaluator's instance code calls np.in1d, gone in NumPy 2.4
        monkeypatch.setattr(np, "in1d", lambda a, b, **kw: np.isin(a, b, **kw).ravel(), raising=False)
    peer = ev_mod.evaluateImgLists([r[0] for r in layout], [r[1] for r in layout], args)
    ev = Evaluation(cityscapes(pred_ids="label", gt_ids="label"),
                    EvalConfig(analyses=("errors", "conventions"), allow_unknown_pred=True,
                               instances_dir=str(tmp_path / "inst")))
    for i, (_, _, p, g) in enumerate(layout):
        ev.update(p, g, image_id=str(i))
    metrics = ev.compute()
    schema.check_metrics(metrics)  # the block's per-class and per-category scores are in the schema
    block = metrics["conventions"]["cityscapes"]
    for key in ("averageScoreClasses", "averageScoreCategories", "averageScoreInstClasses",
                "averageScoreInstCategories"):
        _close(block[key], peer[key])
    for mine, theirs in (("per_class_iiou", "classInstScores"), ("per_category_iou", "categoryScores"),
                         ("per_category_iiou", "categoryInstScores")):
        names = list(block[mine])
        _close([np.nan if v is None else v for v in block[mine].values()], [peer[theirs][n] for n in names])
    # the data exercise what they should: classes and categories with instances, some partly found
    assert sum(v is not None for v in block["per_class_iiou"].values()) >= 6
    assert [c for c, v in block["per_category_iiou"].items() if v is not None] == ["human", "vehicle"]
    assert block["averageScoreInstCategories"] != block["averageScoreInstClasses"]


def test_cityscapes_blocks_without_instances_have_no_instance_scores():
    ev = Evaluation(cityscapes(gt_ids="train"), EvalConfig(analyses=("conventions",)))
    # trainIds: road, person; car, and a rider predicted as a car
    ev.update(np.array([[0, 11], [13, 13]]), np.array([[0, 11], [13, 12]]), image_id="a")
    block = ev.compute()["conventions"]["cityscapes"]
    assert "averageScoreInstCategories" not in block and "per_class_iiou" not in block
    assert block["per_category_iou"] == {"flat": 1.0, "construction": None, "object": None, "nature": None,
                                         "sky": None, "human": 0.5, "vehicle": 0.5}


# ---------------------------------------------------------------------- hand-worked cases
def _hand_data():
    """Two classes' worth of data where every policy differs: class 'a' perfect in image 0,
    half-found in image 1; 'b' predicted only; 'c' nowhere."""
    cm = np.array([[6, 2, 0], [0, 0, 0], [0, 0, 0]])
    sums = ImageSums.of(tp=[[4, 0, 0], [2, 0, 0]], fp=[[0, 0, 0], [0, 2, 0]], fn=[[0, 0, 0], [2, 0, 0]])
    return ConventionData(cm=cm, gt=np.array([8, 0, 0]), names=("a", "b", "c"), sums=sums, miou_image=0.75)


def test_hand_worked_hf_and_detectron2():
    d = _hand_data()
    # HF mean_iou: IoU a = 6/8, b = 0/2, c = 0/0 (NaN); nanmean = 0.375; nan_to_num applies after the means
    hf = convention_block("hf", d)
    assert hf["mean_iou"] == 0.375 and hf["mean_accuracy"] == 0.75 and hf["overall_accuracy"] == 0.75
    assert hf["per_class_iou"] == {"a": 0.75, "b": 0.0, "c": None}
    hf0 = convention_block("hf:nan_to_num=0", d)
    assert hf0["mean_iou"] == 0.375 and hf0["per_class_iou"]["c"] == 0.0
    # detectron2: only classes with GT pixels: mIoU = 0.75, fwIoU = 0.75, mACC = 0.75, pACC = 0.75
    d2 = convention_block("detectron2", d)
    assert (d2["mIoU"], d2["fwIoU"], d2["mACC"], d2["pACC"]) == (0.75, 0.75, 0.75, 0.75)
    assert d2["per_class_iou"] == {"a": 0.75, "b": None, "c": None}
    # mmseg nan_to_num=0 puts a 0 for c into the mean: (0.75 + 0 + 0) / 3
    assert convention_block("mmseg:nan_to_num=0", d)["mIoU"] == 0.25
    # smp-macro scores c 1 (zero_division): (0.75 + 0 + 1) / 3
    assert convention_block("smp-macro", d)["miou"] == pytest.approx(1.75 / 3, abs=1e-15)
    # torchmetrics MeanIoU: pairs with a union: a in image 0 (1), a in image 1 (0.5), b in image 1 (0)
    tm = convention_block("torchmetrics-meaniou", d)
    assert tm["miou"] == 0.5 and tm["per_class_iou"] == {"a": 0.75, "b": 0.0, "c": -1.0}


def test_parse_errors_list_the_valid_names_and_options():
    with pytest.raises(SegscopeError, match="unknown convention 'mmsegx'; choose from segscope, mmseg"):
        parse_convention("mmsegx")
    with pytest.raises(SegscopeError, match="its options are zero_division"):
        parse_convention("smp-macro:nan_to_num=0")
    with pytest.raises(SegscopeError, match="must be a number"):
        parse_convention("smp-macro:zero_division=warn")
    with pytest.raises(SegscopeError, match="unknown convention"):
        EvalConfig(conventions=("nope",))
    assert set(CONVENTIONS) >= {"segscope", "mmseg", "hf", "detectron2", "cityscapes", "smp-micro"}


def test_cityscapes_needs_the_cityscapes_classes():
    with pytest.raises(SegscopeError, match="19 Cityscapes classes"):
        convention_block("cityscapes", _hand_data())


def test_compute_from_a_results_folder_equals_the_run(tmp_path):
    preds, gts = _data(6)
    ev = Evaluation(ClassSpec.anonymous(K, IGNORE), EvalConfig(analyses=("conventions",)))
    for i, (p, g) in enumerate(zip(preds, gts)):
        ev.update(p, g, image_id=f"img_{i}")
    m = ev.save(tmp_path)
    for name in ("mmseg:nan_to_num=0", "smp-macro-imagewise:zero_division=0", "torchmetrics-meaniou"):
        assert compute(tmp_path, name) == compute(ev, name)
    assert compute(tmp_path, "detectron2") == m["conventions"]["detectron2"]
    rows = {r["convention"]: r for r in explain_rows(tmp_path)}
    assert any("is predicted in 2 image(s): detectron2 leaves it out" in w for w in rows["detectron2"]["why"])
    assert rows["mmseg"]["why"] == [] and rows["mmseg"]["delta"] == 0.0


def test_image_sums_add_up_block_by_block():
    rng = np.random.default_rng(5)
    tp, fp, fn = (rng.integers(0, 3, (40, 6)) for _ in range(3))
    whole = ImageSums.of(tp, fp, fn)
    parts = ImageSums.of(tp[:7], fp[:7], fn[:7]) + ImageSums.of(tp[7:], fp[7:], fn[7:])
    assert whole.images == parts.images == 40
    np.testing.assert_allclose(parts.iou_sum, whole.iou_sum, rtol=0, atol=1e-12)
    assert parts.iou_count.tolist() == whole.iou_count.tolist()
    assert parts.fp_images.tolist() == ((fp > 0).sum(0)).tolist()
    assert parts.micro_count == whole.micro_count and abs(parts.micro_sum - whole.micro_sum) < 1e-12


def test_many_classes_conventions_from_the_sparse_matrix(tmp_path):
    """Above 256 classes the states and metrics.json's matrix are sparse; the blocks equal those
    of the same data under a spec of only the classes present."""
    rng = np.random.default_rng(9)
    big, present = 3000, np.array([5, 17, 2999])
    gts = [present[rng.integers(0, 3, (16, 16))] for _ in range(3)]
    preds = [np.where(rng.random((16, 16)) < 0.3, present[rng.integers(0, 3, (16, 16))], g) for g in gts]
    ev = Evaluation(ClassSpec.anonymous(big), EvalConfig(analyses=("conventions",)))
    small = Evaluation(ClassSpec.anonymous(3), EvalConfig(analyses=("conventions",)))
    for i, (p, g) in enumerate(zip(preds, gts)):
        ev.update(p, g, image_id=f"img_{i}")
        small.update(np.searchsorted(present, p), np.searchsorted(present, g), image_id=f"img_{i}")
    m = ev.save(tmp_path)
    assert "confusion_matrix_sparse" in m
    s = small.compute()["conventions"]
    for name in ("detectron2", "torchmetrics-jaccard-macro", "smp-micro-imagewise", "torchmetrics-meaniou"):
        got, want = m["conventions"][name], s[name]
        assert abs(got["miou"] - want["miou"]) < 1e-12, name
        assert [got["per_class_iou"][f"{c}"] for c in present] == list(want["per_class_iou"].values()), name
    assert compute(tmp_path, "mmseg:nan_to_num=0") == compute(ev, "mmseg:nan_to_num=0")
