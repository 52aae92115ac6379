"""segscope: evaluate semantic segmentation masks and find out where they go wrong.

>>> import segscope
>>> pred = [[0, 0, 1], [0, 1, 1], [0, 0, 1]]
>>> gt = [[0, 0, 1], [0, 1, 1], [0, 1, 1]]
>>> float(segscope.iou_per_class(pred, gt, num_classes=2)[1])
0.8

Class specs
-----------
ClassSpec, load_spec, preset

Masks and files
---------------
read_mask, write_mask, pair_masks

Region metrics
--------------
confusion_matrix, ConfusionState, iou_per_class, per_class_metrics, summary_metrics

Boundary metrics
----------------
boundary_iou, bf_score, trimap_scores

Error breakdown
---------------
error_counts, error_ratios, error_type_maps

Evaluating a run
----------------
EvalConfig, Evaluation, evaluate_arrays, evaluate_folders, FolderRun

Class imbalance
---------------
class_counts, class_weights

Errors
------
SegscopeError

Subpackages: :mod:`segscope.io`, :mod:`segscope.metrics`, :mod:`segscope.engine`,
:mod:`segscope.analysis`, :mod:`segscope.viz`, :mod:`segscope.report`, :mod:`segscope.check`.
"""

from ._version import __version__
from .classes import ClassSpec, load_spec, preset
from .engine.config import EvalConfig
from .engine.evaluation import Evaluation, evaluate_arrays
from .exceptions import SegscopeError
from .io.files import pair_masks
from .io.masks import read_mask, write_mask
from .metrics.boundary import bf_score, boundary_iou, trimap_scores
from .metrics.breakdown import error_counts, error_ratios, error_type_maps
from .metrics.confusion import ConfusionState, confusion_matrix
from .metrics.region import iou_per_class, per_class_metrics, summary_metrics
from .run import FolderRun, evaluate_folders
from .stats import class_counts, class_weights

__all__ = [
    "__version__",
    "ClassSpec",
    "ConfusionState",
    "EvalConfig",
    "Evaluation",
    "FolderRun",
    "SegscopeError",
    "bf_score",
    "boundary_iou",
    "class_counts",
    "class_weights",
    "confusion_matrix",
    "error_counts",
    "error_ratios",
    "error_type_maps",
    "evaluate_arrays",
    "evaluate_folders",
    "iou_per_class",
    "load_spec",
    "pair_masks",
    "per_class_metrics",
    "preset",
    "read_mask",
    "summary_metrics",
    "trimap_scores",
    "write_mask",
]
