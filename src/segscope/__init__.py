"""segscope: evaluate semantic segmentation masks and find out where they go wrong.

>>> import segscope
>>> pred = [[0, 0, 1], [0, 1, 1], [0, 0, 1]]
>>> gt = [[0, 0, 1], [0, 1, 1], [0, 1, 1]]
>>> float(segscope.iou_per_class(pred, gt, num_classes=2)[1])
0.8
"""

__version__ = "0.1.0"

from .classes import ClassSpec, load_spec, preset  # noqa: E402
from .confusion import ConfusionState, confusion_matrix  # noqa: E402
from .errors_base import SegscopeError  # noqa: E402
from .evaluate import EvalConfig, Evaluation, evaluate_arrays  # noqa: E402
from .io import pair_masks, read_mask, write_mask  # noqa: E402
from .metrics import iou_per_class, per_class_metrics, summary_metrics  # noqa: E402
from .stats import class_counts, class_weights  # noqa: E402

__all__ = [
    "__version__",
    "ClassSpec",
    "ConfusionState",
    "EvalConfig",
    "Evaluation",
    "SegscopeError",
    "class_counts",
    "class_weights",
    "confusion_matrix",
    "evaluate_arrays",
    "iou_per_class",
    "load_spec",
    "pair_masks",
    "per_class_metrics",
    "preset",
    "read_mask",
    "summary_metrics",
    "write_mask",
]
