"""ONNX export of a trained baseline (needs the ``[onnx]`` extra: onnx, onnxruntime, onnxscript).

The exported graph takes ``image``: float32 N×3×H×W RGB in 0..255 (the normalisation is inside)
and returns ``logits``: float32 N×K×H×W. Batch, height and width are dynamic; sizes divisible by
``2 ** depth`` (16 by default) match the PyTorch model most closely. The class names, ids and
colours are stored in the model's metadata (``segscope_classes``, JSON).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..exceptions import SegscopeError
from ..io.results import atomic_write
from .predict import load_run

__all__ = ["export_onnx", "check_onnx"]


def export_onnx(
    run_dir: str | Path, out_path: str | Path, size: tuple[int, int] | None = None, opset: int = 18,
    check: bool = True, atol: float = 1e-4,
) -> dict:
    """Export the run's best checkpoint to ONNX; with ``check`` (and onnxruntime installed) run
    both on a random image of ``size`` and report the largest absolute difference of the logits.

    Returns a dict with ``path``, ``size``, ``opset`` and, when checked, ``max_abs_diff``.
    """
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise SegscopeError("ONNX export needs the [onnx] extra: pip install 'segscope[onnx]'") from None
    model, spec, ckpt = load_run(run_dir, device="cpu")
    model = model.float().to(memory_format=torch.contiguous_format).eval()
    if size is None:
        size = tuple(ckpt.get("train_config", {}).get("size", (128, 128)))
    h, w = int(size[0]), int(size[1])
    example = torch.rand(1, 3, h, w) * 255
    batch, height, width = torch.export.Dim("batch", min=1, max=1024), torch.export.Dim.AUTO, torch.export.Dim.AUTO
    out_path = Path(out_path)
    try:
        program = torch.onnx.export(
            model, (example,), input_names=["image"], output_names=["logits"], opset_version=opset,
            dynamic_shapes={"x": {0: batch, 2: height, 3: width}}, dynamo=True, verbose=False,
        )
    except Exception as exc:  # the exporter raises many types
        raise SegscopeError(f"ONNX export failed: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}", run_dir) from None
    proto = program.model_proto
    meta = {
        "segscope_classes": json.dumps(spec.to_dict()),
        "segscope_input": "image: float32 N×3×H×W RGB 0..255",
        "segscope_checkpoint_epoch": str(ckpt.get("epoch")),
    }
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    with atomic_write(out_path, "wb") as fh:
        fh.write(proto.SerializeToString())
    info = {"path": str(out_path), "size": [h, w], "opset": opset, "classes": list(spec.names)}
    if check:
        diff = check_onnx(model, out_path, example)
        info["max_abs_diff"] = diff
        if diff is not None and not diff <= atol:
            raise SegscopeError(f"onnxruntime output differs from PyTorch by {diff:.3g} (> {atol})", out_path)
    return info


def check_onnx(model: torch.nn.Module, onnx_path: str | Path, example: torch.Tensor) -> float | None:
    """Largest absolute difference between the PyTorch logits and onnxruntime's for ``example``
    (None when onnxruntime is not installed)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    with torch.inference_mode():
        ref = model(example).numpy()
    got = sess.run(None, {sess.get_inputs()[0].name: example.numpy()})[0]
    if got.shape != ref.shape:
        return float("inf")
    return float(np.abs(got - ref).max())
