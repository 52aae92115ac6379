"""``segscope export RUN MODEL.onnx``: the trained baseline as an ONNX model."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .._common import add_command, err_console

EXAMPLE = """
Example:

    segscope export run/ model.onnx
"""


def export(
    run: Path = typer.Argument(..., help="Run folder of `segscope train` (or a checkpoint file)."),
    output: Path = typer.Argument(Path("model.onnx"), help="The ONNX file to write."),
    size: Optional[str] = typer.Option(None, "--size", help="Example input HxW for tracing and the check (default: the training crop)."),
    opset: int = typer.Option(18, "--opset", help="ONNX opset version."),
    check: bool = typer.Option(True, "--check/--no-check", help="Compare onnxruntime with PyTorch (tolerance 1e-4)."),
) -> None:
    """Export the best checkpoint of a run to ONNX (input `image` float32 N×3×H×W RGB 0..255,
    output `logits` N×K×H×W; dynamic batch and size). Needs the `onnx` extra."""
    from ...baseline import require_torch

    require_torch("segscope export")
    from ...baseline.export import export_onnx
    from .train import parse_size

    info = export_onnx(run, output, size=parse_size(size) if size else None, opset=opset, check=check)
    line = f"wrote {info['path']} (opset {info['opset']}, {len(info['classes'])} classes)"
    if info.get("max_abs_diff") is not None:
        line += f"; onnxruntime matches PyTorch within {info['max_abs_diff']:.2e}"
    elif check:
        line += "; onnxruntime not installed, output not checked"
    err_console.print(line)


def register(app: typer.Typer) -> None:
    add_command(app, export, EXAMPLE)
