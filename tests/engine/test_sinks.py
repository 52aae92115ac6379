"""Sinks and the analyzer registry: a disk-sink run writes the same files as a memory-sink run,
the parent's memory does not grow with the images, and analyzers get what they need as states."""

from __future__ import annotations

import gc
import json
import tracemalloc

import numpy as np
import pytest

from segscope.classes import load_spec
from segscope.cli import main
from segscope.engine import Evaluation, EvalConfig
from segscope.engine.analyzers import base
from segscope.engine.analyzers.base import ImageContext, analyzer_names, optional_analyses
from segscope.engine.runners import run_evaluation
from segscope.engine import sinks
from segscope.engine.sinks import DiskSink, MemorySink, TopK
from segscope.exceptions import SegscopeError
from segscope.io.files import pair_masks

from golden.make_golden import seeded  # tests/ is on the path (tests/golden is a package)


@pytest.fixture(scope="module")
def seeded_run(tmp_path_factory):
    """The golden seeded set (every analysis, second annotation, probabilities, instances)."""
    root = tmp_path_factory.mktemp("seeded")
    data = seeded(root / "data")
    spec = load_spec(str(root / "data" / "classes.json"))
    config = EvalConfig(gt2_dir=str(root / "data" / "gt2"), probs_dir=str(root / "data" / "probs"),
                        instances_dir=str(root / "data" / "inst"), worst_k=4, trimap=(1, 3, 5))
    return root, spec, config, pair_masks(data["pred"], data["gt"])


def _files(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("order", ["sorted", "reversed"])
def test_disk_sink_writes_the_same_bytes_as_memory(seeded_run, order):
    root, spec, config, pairs = seeded_run
    pairs = list(pairs) if order == "sorted" else list(reversed(pairs))
    mem = run_evaluation(pairs, spec, config, jobs=1)
    disk_dir = root / f"disk-{order}"
    disk = run_evaluation(pairs, spec, config, jobs=1, sink_dir=disk_dir)
    assert isinstance(mem.sink, MemorySink) and isinstance(disk.sink, DiskSink)
    assert (disk_dir / DiskSink.DIRNAME).is_dir()
    assert json.dumps(disk.per_image_rows()) == json.dumps(mem.per_image_rows())  # NaN != NaN
    mem.save(root / f"mem-{order}")
    disk.save(disk_dir, disk.compute())
    assert not (disk_dir / DiskSink.DIRNAME).exists()  # save completed the folder
    a, b = _files(root / f"mem-{order}"), _files(disk_dir)
    assert a.keys() == b.keys() and "suspect_labels.csv" in a and "per_image_errors.npz" in a
    for name in a:
        assert a[name] == b[name], name


def test_arrival_order_changes_only_the_arrival_ordered_file(seeded_run):
    root, *_ = seeded_run
    a, b = _files(root / "disk-sorted"), _files(root / "disk-reversed")
    differ = {name for name in a if a[name] != b[name]}
    assert differ == {"per_image_counts.npz"}  # its images are in arrival order, by design
    with np.load(root / "disk-sorted" / "per_image_counts.npz") as x, \
            np.load(root / "disk-reversed" / "per_image_counts.npz") as y:
        assert x["image_ids"].tolist() == y["image_ids"].tolist()[::-1]
        assert np.array_equal(x["tp"], y["tp"][::-1])


def test_a_failed_run_leaves_no_records(seeded_run, tmp_path):
    _, spec, config, pairs = seeded_run
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    broken = [*pairs[:2], type(pairs[0])(pairs[2].image_id, bad, pairs[2].gt)]
    with pytest.raises(SegscopeError):
        run_evaluation(broken, spec, config, jobs=1, sink_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _tiny_run(n: int, sink, out=None) -> tuple[int, int]:
    """Python memory an evaluation of ``n`` tiny images retains once they are added, and the
    peak above that while it computes and saves."""
    rng = np.random.default_rng(0)
    masks = [(rng.integers(0, 3, (12, 12)), rng.integers(0, 3, (12, 12))) for _ in range(8)]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        ev = Evaluation(3, EvalConfig(worst_k=3, boundary_px=1), sink=sink)
        for i in range(n):
            ev.update(*masks[i % len(masks)], image_id=f"img_{i:06d}")
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.reset_peak()
        ev.save(sink.folder if out is None else out)
        peak = tracemalloc.get_traced_memory()[1] - before - retained
    finally:
        tracemalloc.stop()
    return retained, peak


def test_parent_memory_does_not_grow_with_images(tmp_path, monkeypatch):
    monkeypatch.setattr(sinks, "CHUNK", 32)  # outputs are assembled from chunks of 32 images
    _tiny_run(50, DiskSink(tmp_path / "warm"))  # every code path imported and compiled
    small, small_peak = _tiny_run(150, DiskSink(tmp_path / "a"))
    large, large_peak = _tiny_run(1500, DiskSink(tmp_path / "b"))
    # 1,350 more images: a few bytes each at most (rows and records in memory take KBs each); a
    # one-off growth of the interpreter's own tables can cost a few KB in one run, a per-image
    # cost shows in every run
    large = min(large, _tiny_run(1500, DiskSink(tmp_path / "c"))[0])
    assert large - small < 16 * 1350, (small, large)
    # writing the outputs reads the records back in chunks: its peak does not follow the images
    assert large_peak - small_peak < 64 * 1024, (small_peak, large_peak)
    # the measurement can fail: the memory sink keeps every row and record
    mem_small, _ = _tiny_run(150, MemorySink(), tmp_path / "m")
    mem_large, _ = _tiny_run(1500, MemorySink(), tmp_path / "n")
    assert mem_large - mem_small > 1024 * 1350, (mem_small, mem_large)


def test_topk_equals_a_stable_sort():
    rng = np.random.default_rng(1)
    keys = [(float(rng.integers(0, 5)), f"i{j:03d}") for j in range(60)]
    acc = TopK(7)
    for key in keys:
        acc = acc + TopK.of(7, key, key[1])
    assert acc.values() == [k[1] for k in sorted(keys)[:7]]
    halves = sum((TopK.of(7, k, k[1]) for k in keys[30:]), TopK(7)) + sum(
        (TopK.of(7, k, k[1]) for k in keys[:30]), TopK(7))
    assert halves.values() == acc.values()


# ---------------------------------------------------------------------- the registry
def test_skip_reads_the_registry(tmp_path, capsys, monkeypatch):
    from segscope.synth import write_dataset

    paths = write_dataset(tmp_path / "data", num_images=2, height=32, width=48)
    args = ["evaluate", str(paths["pred"]), str(paths["gt"]), "--classes", str(paths["classes"]),
            "--out", str(tmp_path / "out"), "--jobs", "1", "-q"]
    assert main([*args, "--skip", "nope"]) == 1
    err = capsys.readouterr().err
    assert "nope" in err and ", ".join(optional_analyses()) in err
    assert set(optional_analyses()) == set(analyzer_names()) - {"core"} >= {"boundary", "errors"}
    assert main(["evaluate", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert all(name in help_text for name in optional_analyses())
    # a newly registered analysis can be skipped, and is reported among the choices
    monkeypatch.setitem(base._REGISTRY, "needs_core", NeedsCore)
    assert main([*args, "--skip", "bogus"]) == 1
    assert "needs_core" in capsys.readouterr().err
    assert main([*args, "--skip", "needs_core", "--skip", "boundary", "--skip", "errors", "--skip", "conventions"]) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["config"]["analyses"] == ["core"]


def test_config_rejects_unknown_analyses():
    with pytest.raises(SegscopeError, match="unknown analysis 'nope'; choose from boundary, errors"):
        EvalConfig(analyses=("boundary", "nope"))


class NeedsCore:
    """A test analysis that reads the core's states (per image and pooled)."""

    name = "needs_core"
    needs = ("core",)
    keys = ("labelled_pixels_seen",)
    optional = True
    seen: list = []

    def __init__(self, spec, config):
        self.k = spec.num_classes

    def image(self, pred, gt, ctx: ImageContext):
        counts = ctx.states["core"]["counts"]
        return {"valid": int(counts[: self.k, : self.k + 1].sum())}, {"core_valid": int(counts[: self.k].sum())}, None

    def finalize(self, states, sink):
        NeedsCore.seen.append(sorted(states))
        assert states["needs_core"]["valid"] == int(states["core"]["counts"][: self.k, : self.k + 1].sum())
        return {"labelled_pixels_seen": states["needs_core"]["valid"]}

    def write(self, states, metrics, sink, out_dir):
        pass


def _street_eval(analyses):
    from segscope import synth

    ev = Evaluation(synth.street_spec(), EvalConfig(analyses=analyses))
    for i in range(4):
        scene = synth.make_scene(5 + i, 64, 128)
        pred, _ = synth.make_prediction(scene, 5 + i, severity=1.5)
        ev.update(pred, scene.mask, image_id=f"s{i}")
    return ev


def test_an_analyzer_gets_the_states_it_needs_in_any_order(monkeypatch):
    monkeypatch.setitem(base._REGISTRY, "needs_core", NeedsCore)
    NeedsCore.seen.clear()
    forward = _street_eval(("needs_core", "boundary", "errors"))
    backward = _street_eval(("errors", "boundary", "needs_core"))
    assert [a.name for a in forward.analyzers] == [a.name for a in backward.analyzers]
    mf, mb = forward.compute(), backward.compute()
    assert NeedsCore.seen == [["core", "needs_core"]] * 2
    assert mf["labelled_pixels_seen"] == mf["valid_pixels"] > 0
    assert json.dumps(mf, sort_keys=True, default=str) == json.dumps(mb, sort_keys=True, default=str)
    # no analyzer reads another's output: finalizing in reverse order gives the same parts
    parts = {a.name: a.finalize(forward._states_for(a), forward.sink) for a in reversed(forward.analyzers)}
    again = {a.name: a.finalize(forward._states_for(a), forward.sink) for a in forward.analyzers}
    assert json.dumps(parts, sort_keys=True, default=str) == json.dumps(again, sort_keys=True, default=str)
    assert parts["boundary"]["per_class"]["car"]["min_iou_boundary_iou"] == pytest.approx(
        min(mf["per_class"]["car"]["iou"], mf["per_class"]["car"]["boundary_iou"]))
    for row in forward.per_image_rows():
        assert row["core_valid"] == row["valid_pixels"]


def test_a_need_that_is_skipped_is_an_error(monkeypatch):
    class NeedsBoundary(NeedsCore):
        name = "needs_boundary"
        needs = ("core", "boundary")

    monkeypatch.setitem(base._REGISTRY, "needs_boundary", NeedsBoundary)
    with pytest.raises(SegscopeError, match="'needs_boundary' analysis needs 'boundary'"):
        Evaluation(3, EvalConfig(analyses=("needs_boundary",)))
    names = [a.name for a in Evaluation(3, EvalConfig(analyses=("needs_boundary", "boundary"))).analyzers]
    assert names.index("needs_boundary") > names.index("boundary")
