"""Stateless metrics on masks: each family is a thin Python layer over its own kernel file.

Region metrics (:mod:`segscope.metrics.region`, :mod:`segscope.metrics.confusion`)
    confusion_matrix, confusion_counts, ConfusionState, iou_per_class, per_class_metrics,
    summary_metrics
Boundary metrics (:mod:`segscope.metrics.boundary`)
    boundary_iou, boundary_counts, boundary_bands, boundary_width, bf_score, bf_counts,
    bf_tolerance, contours, trimap_scores, trimap_counts, trimap_distance
Error breakdown (:mod:`segscope.metrics.breakdown`)
    error_counts, error_type_maps, error_ratios, error_means, analyze_image, band_width
Segments (:mod:`segscope.metrics.segments`)
    image_segments, instance_segments, segment_metrics, size_bins, iiou
Annotations (:mod:`segscope.metrics.annotations`)
    agreement_counts, agreement_metrics, suspect_labels, segment_probabilities

Kernel files (``_*_kernels.py``) hold the compiled loops and are imported on first use, so
``import segscope`` does not import numba.
"""

from .confusion import ConfusionState, confusion_counts, confusion_matrix
from .region import class_counts_from_confusion, iou_per_class, nanmean, per_class_metrics, summary_metrics

__all__ = [
    "ConfusionState",
    "class_counts_from_confusion",
    "confusion_counts",
    "confusion_matrix",
    "iou_per_class",
    "nanmean",
    "per_class_metrics",
    "summary_metrics",
]
