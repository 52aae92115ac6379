"""The torchmetrics region metric in a plain loop, and the Lightning callback (with Lightning when
it is installed, and its logic without)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from segscope import evaluate_folders, synth  # noqa: E402
from segscope.io.masks import read_mask  # noqa: E402
from segscope.io.results import clean_json  # noqa: E402
from segscope.report import build_report  # noqa: E402
from segscope.torch import SegscopeCallback, SegscopeMetric  # noqa: E402

SPEC = synth.street_spec()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("lightning_data")
    paths = synth.write_dataset(root, num_images=4, height=32, width=64, seed=5)
    ids = sorted(p.stem for p in paths["gt"].iterdir())
    preds = np.stack([read_mask(paths["pred"] / f"{i}.png") for i in ids])
    gts = np.stack([read_mask(paths["gt"] / f"{i}.png") for i in ids])
    cli = evaluate_folders(paths["pred"], paths["gt"], SPEC, out=root / "cli", jobs=1)
    return {"paths": paths, "ids": ids, "preds": preds, "gts": gts, "cli": cli, "root": root}


def _metrics_json(folder) -> dict:
    m = json.loads((folder / "metrics.json").read_text())
    for key in ("pred_dir", "gt_dir", "pred_suffix", "gt_suffix", "pred_ids", "gt_ids"):
        m["config"].pop(key, None)
    return m


def test_torchmetrics_region_metric_in_a_loop(data):
    pytest.importorskip("torchmetrics")
    from segscope.torch import SegscopeRegionMetric

    metric = SegscopeRegionMetric(SPEC)
    for s in range(0, 4, 2):
        batch = metric(torch.from_numpy(data["preds"][s : s + 2]).long(), torch.from_numpy(data["gts"][s : s + 2]))
        assert set(batch) >= {"miou", "iou_road"}
    out = metric.compute()
    cli = data["cli"].metrics
    for key in ("miou", "pixel_accuracy", "mean_accuracy", "mdice", "fwiou"):
        assert float(out[key]) == cli[key], key
    for name in SPEC.names:
        want = cli["per_class"][name]["iou"]
        got = float(out[f"iou_{name}"])
        assert (want is None and np.isnan(got)) or got == want, name
    metric.reset()
    assert int(metric.counts.sum()) == 0


def _steps(data):
    for s in range(0, 4, 2):
        yield {"preds": torch.from_numpy(data["preds"][s : s + 2]), "target": torch.from_numpy(data["gts"][s : s + 2]),
               "ids": data["ids"][s : s + 2]}


def test_callback_logic_without_lightning(data, tmp_path):
    """The hooks as Lightning calls them, with a stand-in trainer: a results folder and the report."""
    callback = SegscopeCallback(SegscopeMetric(SPEC), tmp_path / "val", report=build_report)
    trainer = SimpleNamespace(current_epoch=0, sanity_checking=True)
    callback.on_validation_epoch_start(trainer, None)
    callback.on_validation_batch_end(trainer, None, next(_steps(data)), None, 0)
    callback.on_validation_epoch_end(trainer, None)  # the sanity check writes nothing
    assert not (tmp_path / "val").exists()
    trainer.sanity_checking = False
    callback.on_validation_epoch_start(trainer, None)
    for i, outputs in enumerate(_steps(data)):
        callback.on_validation_batch_end(trainer, None, outputs, None, i)
    callback.on_validation_epoch_end(trainer, None)
    assert _metrics_json(tmp_path / "val") == _metrics_json(data["root"] / "cli")
    assert (tmp_path / "val" / "report" / "index.html").is_file()
    assert callback.metrics["num_images"] == 4
    with pytest.raises(KeyError, match="'preds' and 'target'"):
        callback.on_validation_batch_end(trainer, None, {"logits": 1}, None, 0)


def test_callback_in_lightning(data, tmp_path):
    try:
        import lightning.pytorch as pl
    except ImportError:
        pl = pytest.importorskip("pytorch_lightning")

    class Replay(pl.LightningModule):
        """Returns the stored predictions of each batch: the callback sees what a model would give."""

        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(1))

        def validation_step(self, batch, batch_idx):
            pred, target, index = batch
            return {"preds": pred, "target": target, "ids": [data["ids"][i] for i in index.tolist()]}

    dataset = torch.utils.data.TensorDataset(torch.from_numpy(data["preds"]), torch.from_numpy(data["gts"]),
                                             torch.arange(4))
    loader = torch.utils.data.DataLoader(dataset, batch_size=3)
    callback = SegscopeCallback(SegscopeMetric(SPEC), tmp_path / "val")
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=[callback])
    trainer.validate(Replay(), dataloaders=loader, verbose=False)
    assert _metrics_json(tmp_path / "val") == _metrics_json(data["root"] / "cli")
    assert json.dumps(clean_json(callback.metrics)) == json.dumps(clean_json(callback.metric.compute()))
