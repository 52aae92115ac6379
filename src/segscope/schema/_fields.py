"""The results schema's data: every key of ``metrics.json`` and every CSV column, section by section."""

from __future__ import annotations

from ..metrics.annotations import SUSPECT_MAX_PROB, SUSPECT_MIN_PIXELS
from ..metrics.breakdown import ERROR_TYPES, SLIVER_MAX_WIDTH
from ..metrics.confusion import DENSE_MATRIX_CLASSES
from ._records import Field, Section, Term


# ---------------------------------------------------------------------- the fields
def _section(title: str, file: str, text: str, analysis: str, prefix: str, rows) -> Section:
    """Fields from rows ``(key, type, unit, label, definition[, analysis][, nullable])``; keys are
    relative to ``prefix``."""
    out = []
    for row in rows:
        key, type_, unit, lab, definition, *rest = row
        an = next((r for r in rest if isinstance(r, str)), analysis)
        nullable = next((r for r in rest if isinstance(r, bool)), False)
        full = key if not prefix else (prefix + key if key.startswith("[]") or not key else f"{prefix}.{key}")
        out.append(Field(full, type_, unit, lab, definition, an, file, nullable))
    return Section(title, file, text, tuple(out))


_NULL = True  # marks a nullable non-float field in the rows below

_RUN = _section("The run", "metrics.json", "What was evaluated.", "core", "", [
    ("segscope_version", "str", "text", "segscope version", "the version of segscope that wrote the results"),
    ("classes", "list[str]", "text", "classes", "the class names, in id order"),
    ("num_images", "int", "count", "images", "the number of images evaluated"),
    ("config", "object", "-", "configuration", "every policy the numbers depend on (see *Configuration*)"),
])

_SUMMARY = _section(
    "Summary", "metrics.json",
    "Region metrics of the whole run, from one confusion matrix per image summed over the dataset "
    "(see [metrics.md](metrics.md)).", "core", "", [
        ("miou", "float", "fraction", "mIoU",
         "mean IoU over the present classes (non-empty union) not excluded, from pixel counts pooled over all "
         "images"),
        ("pixel_accuracy", "float", "fraction", "pixel accuracy",
         "Σ tp / labelled pixels: the share of labelled pixels predicted right"),
        ("mean_accuracy", "float", "fraction", "mean accuracy",
         "mean recall over the classes with GT pixels, not excluded"),
        ("mdice", "float", "fraction", "mean Dice", "mean Dice over the present classes, not excluded"),
        ("fwiou", "float", "fraction", "fwIoU",
         "IoU weighted by each class's share of the labelled pixels, renormalised over the classes kept in the "
         "means"),
        ("miou_image", "float", "fraction", "image mIoU",
         "per image, the mean IoU over the classes in that image's GT; then the mean over images"),
        ("valid_pixels", "int", "pixels", "labelled pixels", "pixels whose GT is not the ignore label"),
        ("unmatched_pred_pixels", "int", "pixels", "labelled pixels predicted as no class",
         "labelled pixels predicted as the ignore label or as an id the spec does not know "
         "(--allow-unknown-pred); misses of their GT class"),
        ("absent_classes", "list[str]", "text", "absent classes",
         "classes with no GT and no predicted pixel: their IoU is null and they leave every mean"),
        ("excluded_classes", "list[str]", "text", "excluded classes",
         "classes left out of the means (--exclude); their pixels still count"),
        ("worst_images", "list[object]", "-", "worst images",
         "the config.worst_k images with the lowest image mIoU, lowest first"),
        ("worst_images[].image", "str", "text", "image", "the image id"),
        ("worst_images[].miou", "float", "fraction", "mIoU", "the image's mIoU (as in per_image.csv)"),
        ("worst_images[].pixel_accuracy", "float", "fraction", "pixel accuracy", "the image's pixel accuracy"),
        ("confusion_matrix", "list[list[int]]", "pixels", "confusion matrix",
         "K × K pixel counts pooled over the images: rows GT class, columns predicted class (up to "
         f"{DENSE_MATRIX_CLASSES} classes; beyond, see confusion_matrix_sparse)"),
        ("confusion_matrix_sparse", "object", "-", "confusion matrix (sparse)",
         f"with more than {DENSE_MATRIX_CLASSES} classes, the non-zero cells of the K × K confusion matrix "
         "instead of confusion_matrix, row by row: cell i is gt[i] → pred[i] with pixels[i]; "
         "segscope.metrics.confusion.matrix_from_json reads both forms"),
        ("confusion_matrix_sparse.num_classes", "int", "count", "classes", "K, the size of the matrix"),
        ("confusion_matrix_sparse.gt", "list[int]", "count", "GT class",
         "the GT class of each cell, as its place in classes (from 0)"),
        ("confusion_matrix_sparse.pred", "list[int]", "count", "predicted class",
         "the predicted class of each cell, as its place in classes (from 0)"),
        ("confusion_matrix_sparse.pixels", "list[int]", "pixels", "pixels", "the pixels of each cell (never 0)"),
        ("per_class", "object", "-", "per-class results",
         f"class name → its entry (see *Per class*); with more than {DENSE_MATRIX_CLASSES} classes only the "
         "classes with pixels in the GT or the predictions (or excluded) have one"),
        ("per_class_omitted", "int", "count", "classes without an entry",
         f"with more than {DENSE_MATRIX_CLASSES} classes: the classes left out of per_class (and of each "
         "convention's per_class_iou) because no pixel of the GT or the predictions has them; all their "
         "counts are 0 and their ratios null"),
    ])

_PER_CLASS = _section(
    "Per class", "metrics.json",
    "One entry per class, with counts pooled over every image. The boundary and failure-analysis "
    "keys are there when those analyses ran.", "core", "per_class", [
        ("<class>", "object", "-", "<class>", "the entry of one class"),
        ("<class>.id", "int", "id", "label id", "the class's label id in the masks"),
        ("<class>.iou", "float", "fraction", "IoU", "tp / (tp + fp + fn); null when the union is empty"),
        ("<class>.dice", "float", "fraction", "Dice", "2 tp / (2 tp + fp + fn)"),
        ("<class>.precision", "float", "fraction", "precision", "tp / (tp + fp)"),
        ("<class>.recall", "float", "fraction", "recall", "tp / (tp + fn)"),
        ("<class>.accuracy", "float", "fraction", "class accuracy", "tp / (tp + fn): the class accuracy is its recall"),
        ("<class>.gt_pixels", "int", "pixels", "GT pixels", "labelled GT pixels of the class"),
        ("<class>.pred_pixels", "int", "pixels", "predicted pixels", "labelled pixels predicted as the class"),
        ("<class>.gt_share", "float", "fraction", "GT share", "gt_pixels / all labelled pixels"),
        ("<class>.tp", "int", "pixels", "true positives", "labelled pixels of the class in both GT and prediction"),
        ("<class>.fp", "int", "pixels", "false positives",
         "labelled pixels predicted as the class whose GT is another class"),
        ("<class>.fn", "int", "pixels", "false negatives",
         "GT pixels of the class predicted as another class or as no class"),
        ("<class>.present", "bool", "flag", "present", "the union tp + fp + fn is not empty"),
        ("<class>.excluded", "bool", "flag", "excluded", "left out of the means by --exclude"),
        ("<class>.boundary_iou", "float", "fraction", "boundary IoU",
         "I / U of the bands of width d along the GT and predicted contours of the class, pooled over the images "
         "(Cheng et al., CVPR 2021); null when U = 0", "boundary"),
        ("<class>.min_iou_boundary_iou", "float", "fraction", "min(IoU, boundary IoU)",
         "the smaller of iou and boundary_iou: low when either the region or its outline is wrong", "boundary"),
        ("<class>.bf_score", "float", "fraction", "BF score",
         "boundary F-score: contour pixels matched within the tolerance θ (Csurka et al., BMVC 2013), the mean "
         "over the images where it is defined", "boundary"),
        ("<class>.boundary_intersection", "int", "pixels", "boundary band intersection",
         "I = Σ |band(GT) ∩ band(prediction) ∩ labelled| over the images", "boundary"),
        ("<class>.boundary_union", "int", "pixels", "boundary band union",
         "U = Σ |(band(GT) ∪ band(prediction)) ∩ labelled| over the images", "boundary"),
        ("<class>.errors", "object", "-", "error counts",
         "the pixels of the class's union by error type, pooled over the images", "errors"),
        ("<class>.errors.tp", "int", "pixels", "true positives", "TP pixels of the class", "errors"),
        ("<class>.errors.fp_<type>", "int", "pixels", "false-positive <type> errors",
         "FP pixels of the class that are <type> errors", "errors"),
        ("<class>.errors.fn_<type>", "int", "pixels", "false-negative <type> errors",
         "FN pixels of the class that are <type> errors", "errors"),
        ("<class>.e_<type>_ou", "float", "fraction", "<type> errors, share of the union",
         "(FP + FN <type> errors) / (tp + fp + fn); IoU and the three shares sum to 1", "errors"),
        ("<class>.fp_<type>_ou", "float", "fraction", "false-positive <type> errors, share of the union",
         "FP <type> errors / (tp + fp + fn)", "errors"),
        ("<class>.fn_<type>_ou", "float", "fraction", "false-negative <type> errors, share of the union",
         "FN <type> errors / (tp + fp + fn)", "errors"),
        ("<class>.e_boundary_renormed", "float", "fraction", "boundary error rate, renormalised",
         "E_boundary / (tp + E_boundary); null without TP", "errors"),
        ("<class>.e_extent_renormed", "float", "fraction", "extent error rate, renormalised",
         "E_extent / (tp + E_boundary + E_extent); null without TP", "errors"),
        ("<class>.e_segment_renormed", "float", "fraction", "segment error rate, renormalised",
         "E_segment / (tp + fp + fn)", "errors"),
        ("<class>.iou_gain", "object", "-", "IoU gain if fixed", "per repair, the class's IoU gain", "errors"),
        ("<class>.iou_gain.<scenario>", "float", "delta", "IoU gain, <scenario> fixed",
         "the class's IoU after the repair minus its IoU now", "errors"),
        ("<class>.confused_with", "list[object]", "-", "confused with",
         "the (up to) three other classes its GT pixels are most often predicted as", "errors"),
        ("<class>.confused_with[].class", "str", "text", "predicted as", "the other class", "errors"),
        ("<class>.confused_with[].pixels", "int", "pixels", "pixels",
         "GT pixels of the class predicted as the other class", "errors"),
        ("<class>.confused_with[].share_of_errors", "float", "fraction", "share of its misses",
         "pixels / the class's fn", "errors"),
        ("<class>.segments", "object", "-", "segments by size",
         "the class's GT segments per size bin (lists in bin order)", "errors"),
        ("<class>.segments.bins", "list[str]", "text", "size bins",
         "the labels of the size bins (relative to the image area)", "errors"),
        ("<class>.segments.count", "list[int]", "count", "GT segments", "GT segments per bin", "errors"),
        ("<class>.segments.missed", "list[int]", "count", "missed segments",
         "segments with recall below the miss threshold, per bin", "errors"),
        ("<class>.segments.missed_rate", "list[float]", "fraction", "missed rate",
         "missed / count per bin; null for an empty bin", "errors"),
        ("<class>.segments.recall", "list[float]", "fraction", "segment recall",
         "pixel recall pooled over the bin's segments", "errors"),
        ("<class>.segments.iou", "list[float]", "fraction", "segment IoU",
         "segment TP / (segment sizes + the FP pixels of the predicted components overlapping them), pooled "
         "over the bin", "errors"),
        ("<class>.missed_segment_rate", "float", "fraction", "missed segment rate",
         "missed GT segments / GT segments of the class", "errors"),
        ("<class>.invented_segments", "int", "count", "invented segments",
         "predicted components of the class with no pixel on GT of the class", "errors"),
        ("<class>.sliver_pixels", "int", "pixels", "sliver pixels",
         f"boundary-error pixels of the class in slivers (at most {SLIVER_MAX_WIDTH} px thick, along a GT edge)",
         "errors"),
        ("<class>.iiou", "float", "fraction", "iIoU",
         "instance-weighted IoU of Cityscapes: iTP / (iTP + fp + iFN), each instance weighted by the mean "
         "instance size of the class / its size; with --instances", "errors"),
        ("<class>.inter_annotator_iou", "float", "fraction", "inter-annotator IoU",
         "IoU of the second annotation against the GT: the ceiling a model can reach; with --gt2", "errors"),
        ("<class>.ambiguous_pixels", "int", "pixels", "ambiguous pixels",
         "GT pixels of the class where the two annotations disagree; with --gt2", "errors"),
        ("<class>.ambiguous_error_share", "float", "fraction", "share of errors on ambiguous pixels",
         "(fp + fn on ambiguous pixels) / (fp + fn) of the class; with --gt2", "errors"),
        ("<class>.iou_unambiguous", "float", "fraction", "IoU on unambiguous pixels",
         "the class's IoU with the ambiguous pixels left out; with --gt2", "errors"),
    ])

_BOUNDARY = _section(
    "Boundary metrics", "metrics.json",
    "Made by the `boundary` analysis (see [boundary.md](boundary.md)).", "boundary", "", [
        ("mboundary_iou", "float", "fraction", "boundary mIoU",
         "mean boundary IoU over the classes not excluded where it is defined"),
        ("mbf_score", "float", "fraction", "boundary F-score",
         "mean BF score over the classes not excluded with a defined score"),
        ("boundary_band_share", "float", "fraction", "pixels in the boundary band",
         "the share of the labelled pixels that lie in the GT band of their class; above 0.8, boundary IoU is "
         "close to IoU"),
        ("trimap", "object", "-", "trimap band", "width → the metrics over the pixels near a GT label change"),
        ("trimap.<width>", "object", "-", "within <width> px of a boundary",
         "the labelled pixels whose distance to the nearest GT label change is < <width> px"),
        ("trimap.<width>.miou", "float", "fraction", "mIoU",
         "mIoU over the classes present in the band, not excluded; null for an empty band"),
        ("trimap.<width>.pixel_accuracy", "float", "fraction", "pixel accuracy",
         "pixel accuracy in the band; null for an empty band"),
        ("trimap.<width>.pixels", "int", "pixels", "pixels in the band",
         "labelled pixels in the band, over all images"),
    ])

_FAILURE_RECORD = [
    ("image", "str", "text", "image", "the image id"),
    ("dominant_error", "str", "text", "dominant error",
     "the error type with the largest share of the image's union: " + ", ".join(ERROR_TYPES) + " or none"),
    ("error_share", "float", "fraction", "error share", "1 − the image's mean breakdown IoU (its image mIoU)"),
    *[(t, "float", "fraction", f"{t} errors, share of the union", f"the image's e_{t}_ou") for t in ERROR_TYPES],
    ("miou", "float", "fraction", "mIoU", "the image's mIoU"),
]

_ERRORS = _section(
    "Failure analysis", "metrics.json",
    "Made by the `errors` analysis (see [failure-analysis.md](failure-analysis.md)); the means skip "
    "undefined values and excluded classes.", "errors", "", [
        ("error_breakdown", "object", "-", "error breakdown", "the dataset means of the error breakdown"),
        ("error_breakdown.miou", "float", "fraction", "mIoU of the breakdown",
         "mean over the classes of tp / (tp + fp + fn) from the breakdown's counts (the mIoU)"),
        ("error_breakdown.me_<type>_ou", "float", "fraction", "mean <type> errors, share of the union",
         "mean over the classes of per_class.<class>.e_<type>_ou"),
        ("error_breakdown.mfp_<type>_ou", "float", "fraction", "mean false-positive <type> errors, share of the union",
         "mean over the classes of per_class.<class>.fp_<type>_ou"),
        ("error_breakdown.mfn_<type>_ou", "float", "fraction", "mean false-negative <type> errors, share of the union",
         "mean over the classes of per_class.<class>.fn_<type>_ou"),
        ("error_breakdown.me_<type>_renormed", "float", "fraction", "mean <type> error rate, renormalised",
         "mean over the classes of per_class.<class>.e_<type>_renormed"),
        ("error_breakdown.band_px", "int", "px", "error band width setting",
         "--error-band-px; null when the width follows the ratio", _NULL),
        ("error_breakdown.band_ratio", "float", "fraction", "error band ratio",
         "--error-band-ratio (of the image diagonal); null with a fixed width"),
        ("error_breakdown.error_pixels", "object", "-", "error pixels", "error pixels by type"),
        ("error_breakdown.error_pixels.<type>", "int", "pixels", "<type> error pixels",
         "FP + FN pixels of the type, over all classes and images"),
        ("error_breakdown.error_shares", "object", "-", "error shares", "the types' shares of all error pixels"),
        ("error_breakdown.error_shares.<type>", "float", "fraction", "share of <type> errors",
         "<type> error pixels / all error pixels"),
        ("confusion_pairs", "list[object]", "-", "most confused pairs",
         "the 10 costliest (GT class → predicted class) pairs, largest first; confusion_pairs.json has the top 50"),
        ("confusion_pairs[].gt", "str", "text", "GT class", "the GT class"),
        ("confusion_pairs[].pred", "str", "text", "predicted as", "the class it is predicted as"),
        ("confusion_pairs[].pixels", "int", "pixels", "pixels", "GT pixels of gt predicted as pred"),
        ("confusion_pairs[].share_of_gt_errors", "float", "fraction", "share of the GT class's misses",
         "pixels / fn of the GT class"),
        ("confusion_pairs[].share_of_pred_errors", "float", "fraction", "share of the predicted class's false positives",
         "pixels / fp of the predicted class"),
        ("confusion_pairs[].fn_types", "object", "-", "error types, GT side",
         "the pair's pixels by their error type as FN of the GT class"),
        ("confusion_pairs[].fn_types.<type>", "int", "pixels", "<type> errors, GT side",
         "the pair's pixels that are <type> errors of the GT class"),
        ("confusion_pairs[].fp_types", "object", "-", "error types, predicted side",
         "the pair's pixels by their error type as FP of the predicted class"),
        ("confusion_pairs[].fp_types.<type>", "int", "pixels", "<type> errors, predicted side",
         "the pair's pixels that are <type> errors of the predicted class"),
        ("confusion_pairs[].iou_gain_gt", "float", "delta", "IoU gain of the GT class if resolved",
         "the GT class's IoU gain if those pixels were predicted as it"),
        ("confusion_pairs[].iou_gain_pred", "float", "delta", "IoU gain of the predicted class if resolved",
         "the predicted class's IoU gain if those pixels were not predicted as it"),
        ("confusion_pairs[].miou_gain", "float", "delta", "mIoU gain if resolved",
         "the exact mIoU gain of predicting the pair's pixels as their GT class"),
        ("confusion_pairs[].images", "list[object]", "-", "images where it costs most",
         "the (up to) 5 images with the most pixels of the pair"),
        ("confusion_pairs[].images[].image", "str", "text", "image", "the image id"),
        ("confusion_pairs[].images[].pixels", "int", "pixels", "pixels", "the pair's pixels in that image"),
        ("segments", "object", "-", "segments", "GT segments, missed and invented segments of the run"),
        ("segments.source", "str", "text", "segment source",
         "components (8-connected components of one class) or instances (--instances)"),
        ("segments.bins", "list[float]", "fraction", "size bin edges",
         "the edges of the size bins, as fractions of the image area (--segment-bins)"),
        ("segments.bin_labels", "list[str]", "text", "size bins", "the labels of the size bins"),
        ("segments.miss_threshold", "float", "fraction", "miss threshold",
         "a segment with recall below it is missed (--miss-threshold)"),
        ("segments.gt_segments", "int", "count", "GT segments", "GT segments of all classes"),
        ("segments.missed_segments", "int", "count", "missed segments",
         "GT segments with recall below the miss threshold"),
        ("segments.missed_segment_rate", "float", "fraction", "missed segment rate", "missed_segments / gt_segments"),
        ("segments.invented_segments", "int", "count", "invented segments",
         "predicted components with no pixel on GT of their class"),
        ("segments.invented_pixels", "int", "pixels", "invented pixels", "pixels of the invented segments"),
        ("segments.iiou", "float", "fraction", "mean iIoU",
         "mean of per_class.<class>.iiou over the classes not excluded; with --instances"),
        ("segments.by_size", "list[object]", "-", "segments by size", "one record per size bin, all classes"),
        ("segments.by_size[].bin", "str", "text", "size bin", "the bin's label"),
        ("segments.by_size[].count", "int", "count", "GT segments", "GT segments in the bin"),
        ("segments.by_size[].missed_rate", "float", "fraction", "missed rate", "missed segments / segments in the bin"),
        ("segments.by_size[].recall", "float", "fraction", "segment recall",
         "pixel recall pooled over the bin's segments"),
        ("segments.by_size[].iou", "float", "fraction", "segment IoU", "pooled segment IoU of the bin"),
        ("segments.largest_missed", "list[object]", "-", "largest missed segments",
         "the 10 largest missed segments; missed_segments.csv lists them all"),
        ("segments.largest_missed[].image", "str", "text", "image", "the image id"),
        ("segments.largest_missed[].class", "str", "text", "class", "the segment's GT class"),
        ("segments.largest_missed[].size", "int", "pixels", "size", "the segment's labelled pixels"),
        ("segments.largest_missed[].relative_size", "float", "fraction", "relative size", "size / image area"),
        ("segments.largest_missed[].bbox", "list[int]", "px", "bounding box",
         "(y0, x0, y1, x1), y1 and x1 exclusive"),
        ("segments.largest_missed[].recall", "float", "fraction", "recall",
         "the segment's pixels predicted as its class / its size"),
        ("segments.largest_missed[].iou", "float", "fraction", "segment IoU",
         "those pixels / (its size + the FP pixels of the predicted components of its class overlapping it)"),
        ("segments.largest_missed[].predicted_as", "str", "text", "predicted as",
         "the other class most of its pixels are predicted as; null when none", _NULL),
        ("annotations", "object", "-", "annotation checks",
         "signals that the labels, not the model, are in doubt"),
        ("annotations.slivers", "object", "-", "slivers",
         f"boundary-error components at most {SLIVER_MAX_WIDTH} px thick along a GT edge: label jitter or a "
         "1-2 px offset"),
        ("annotations.slivers.max_width_px", "int", "px", "sliver width limit", "slivers are at most this thick"),
        ("annotations.slivers.pixels", "int", "pixels", "sliver pixels", "sliver pixels over all images"),
        ("annotations.slivers.share_of_boundary_errors", "float", "fraction", "sliver share of boundary errors",
         "sliver pixels / boundary-error pixels"),
        ("annotations.slivers.share_of_errors", "float", "fraction", "sliver share of all errors",
         "sliver pixels / all error pixels"),
        ("annotations.slivers.images", "list[object]", "-", "images with the most slivers",
         "the config.worst_k images with the most sliver pixels"),
        ("annotations.slivers.images[].image", "str", "text", "image", "the image id"),
        ("annotations.slivers.images[].sliver_px", "int", "pixels", "sliver pixels", "the image's sliver pixels"),
        ("annotations.gt2", "object", "-", "second annotation", "agreement with a second annotation (--gt2)"),
        ("annotations.gt2.inter_annotator_miou", "float", "fraction", "inter-annotator mIoU",
         "mean of per_class.<class>.inter_annotator_iou over the classes not excluded"),
        ("annotations.gt2.miou_unambiguous", "float", "fraction", "mIoU on unambiguous pixels",
         "mean of per_class.<class>.iou_unambiguous over the classes not excluded"),
        ("annotations.gt2.ambiguous_pixels", "int", "pixels", "ambiguous pixels",
         "labelled pixels where the two annotations disagree"),
        ("annotations.gt2.ambiguous_error_share", "float", "fraction", "share of errors on ambiguous pixels",
         "the model's FP + FN on ambiguous pixels / all its FP + FN"),
        ("annotations.suspect_labels", "object", "-", "suspect labels",
         "GT segments the model contradicts with confidence (--probs)"),
        ("annotations.suspect_labels.count", "int", "count", "suspect labels", "the number of suspect GT segments"),
        ("annotations.suspect_labels.max_label_prob", "float", "probability", "suspect threshold",
         f"a segment is suspect when the mean probability of its label is at most this ({SUSPECT_MAX_PROB})"),
        ("annotations.suspect_labels.min_pixels", "int", "pixels", "smallest suspect",
         f"segments smaller than this ({SUSPECT_MIN_PIXELS}) are not judged"),
        ("annotations.suspect_labels.top", "list[object]", "-", "most contradicted labels",
         "the 10 suspects with the lowest label probability; suspect_labels.csv lists them all"),
        ("annotations.suspect_labels.top[].image", "str", "text", "image", "the image id"),
        ("annotations.suspect_labels.top[].class", "str", "text", "class", "the segment's GT class"),
        ("annotations.suspect_labels.top[].size", "int", "pixels", "size", "the segment's labelled pixels"),
        ("annotations.suspect_labels.top[].bbox", "list[int]", "px", "bounding box",
         "(y0, x0, y1, x1), y1 and x1 exclusive"),
        ("annotations.suspect_labels.top[].label_prob", "float", "probability", "label probability",
         "the mean probability of its GT label over the segment"),
        ("annotations.suspect_labels.top[].model_class", "str", "text", "model's class",
         "the other class the model's argmax picks most often in the segment"),
        ("annotations.suspect_labels.top[].model_share", "float", "fraction", "model's class share",
         "the segment's pixels whose argmax is model_class / its size"),
        ("improvements", "object", "-", "what fixing would gain", "exact mIoU gains, computed from counts"),
        ("improvements.miou", "float", "fraction", "mIoU now", "the mIoU the gains start from"),
        ("improvements.if_fixed", "object", "-", "if these errors were fixed", "repair → its effect"),
        ("improvements.if_fixed.<scenario>", "object", "-", "<scenario> fixed", "the effect of the repair"),
        ("improvements.if_fixed.<scenario>.miou_gain", "float", "delta", "mIoU gain", "mIoU after − mIoU now"),
        ("improvements.if_fixed.<scenario>.miou_after", "float", "fraction", "mIoU after",
         "the mIoU with the repaired pixels predicted as their GT class"),
        ("improvements.if_fixed.<scenario>.pixels", "int", "pixels", "pixels repaired",
         "the pixels the repair predicts anew"),
        ("improvements.if_confusion_resolved", "list[object]", "-", "if a confusion were resolved",
         "the top confusion pairs with the mIoU gain of resolving each"),
        ("improvements.if_confusion_resolved[].gt", "str", "text", "GT class", "the GT class"),
        ("improvements.if_confusion_resolved[].pred", "str", "text", "predicted as", "the class it is predicted as"),
        ("improvements.if_confusion_resolved[].pixels", "int", "pixels", "pixels", "GT pixels of gt predicted as pred"),
        ("improvements.if_confusion_resolved[].miou_gain", "float", "delta", "mIoU gain if resolved",
         "the exact mIoU gain of predicting them as their GT class"),
        ("recommendations", "list[object]", "-", "recommendations",
         "what to try next, ranked by the mIoU gain of the repair behind each, then the annotation notes"),
        ("recommendations[].rank", "int", "count", "rank", "1 for the first"),
        ("recommendations[].class", "str", "text", "class", "the class it is about; null for run-wide notes", _NULL),
        ("recommendations[].kind", "str", "text", "kind",
         "the rule that fired: small_segments, missed_segments, invented_segments, boundary, extent, confusion, "
         "ambiguous, suspect_labels or annotation_jitter"),
        ("recommendations[].action", "str", "text", "what to try", "the suggestion"),
        ("recommendations[].rule", "str", "text", "why", "the rule with the numbers that made it fire"),
        ("recommendations[].miou_gain", "float", "delta", "mIoU gain",
         "the mIoU gain of the repair behind it (a class's IoU gain / the classes in the mean); null for notes"),
        ("recommendations[].evidence", "object", "-", "evidence", "the figures the rule read"),
        ("recommendations[].evidence.error_shares", "object", "-", "error shares of the class",
         "the class's error pixels by type, as shares"),
        ("recommendations[].evidence.error_shares.<type>", "float", "fraction", "share of <type> errors",
         "the class's <type> error pixels / all its error pixels"),
        ("recommendations[].evidence.pred", "str", "text", "predicted as", "confusion: the class taking its pixels"),
        ("recommendations[].evidence.pixels", "int", "pixels", "pixels", "confusion: the pair's pixels"),
        ("recommendations[].evidence.inter_annotator_iou", "float", "fraction", "inter-annotator IoU",
         "ambiguous: the class's inter-annotator IoU"),
        ("recommendations[].evidence.count", "int", "count", "suspect labels", "suspect_labels: their number"),
        ("recommendations[].evidence.sliver_share", "float", "fraction", "sliver share of boundary errors",
         "annotation_jitter: sliver pixels / boundary-error pixels"),
        ("failure_cases", "list[object]", "-", "failure cases",
         "the config.worst_k images with the largest error share, largest first"),
        *[("failure_cases[]." + r[0], *r[1:]) for r in _FAILURE_RECORD],
        ("failure_cases_by_type", "object", "-", "failure cases by error type",
         "error type → the images with the largest share of that type"),
        ("failure_cases_by_type.<type>", "list[object]", "-", "worst images by <type> errors",
         "the config.worst_k images with the largest e_<type>_ou, largest first"),
        *[("failure_cases_by_type.<type>[]." + r[0], *r[1:]) for r in _FAILURE_RECORD],
    ])

_CONVENTIONS = _section(
    "Conventions", "metrics.json",
    "Made by the `conventions` analysis from the run's counts (see [conventions.md](conventions.md)): other "
    "libraries' mIoU and headline figures, each as that library defines it, unrounded fractions (or the "
    "library's fill value, such as -1).", "conventions", "conventions", [
        ("", "object", "-", "conventions", "convention name → its block"),
        ("<convention>", "object", "-", "<convention>", "one convention's figures"),
        ("<convention>.miou", "float", "fraction", "mIoU", "the convention's headline mean IoU"),
        ("<convention>.<figure>", "float", "fraction", "<figure>",
         "a headline figure under the peer's own key name (see conventions.md)"),
        ("<convention>.per_class_iou", "object", "-", "per-class IoU", "class name → IoU as the convention gives it"),
        ("<convention>.per_class_iou.<class>", "float", "fraction", "IoU of <class>",
         "the class's IoU in that convention; null when it leaves it undefined"),
        ("<convention>.per_class_iou_omitted", "float", "fraction", "IoU of a class without pixels",
         "with more than " f"{DENSE_MATRIX_CLASSES}" " classes: the IoU the convention gives each class left out of "
         "per_class_iou (see per_class_omitted); null when it leaves it undefined"),
        ("<convention>.per_category_iou", "object", "-", "per-category IoU",
         "cityscapes only: category → the evaluator's category IoU (its categoryScores)"),
        ("<convention>.per_category_iou.<category>", "float", "fraction", "IoU of <category>",
         "the category's IoU: its classes taken as one; null when its union is empty"),
        ("<convention>.per_class_iiou", "object", "-", "per-class iIoU",
         "cityscapes with --instances only: class name → the evaluator's instance-level IoU (its classInstScores)"),
        ("<convention>.per_class_iiou.<class>", "float", "fraction", "iIoU of <class>",
         "the class's instance-weighted IoU; null for a class without instances, or with an empty union"),
        ("<convention>.per_category_iiou", "object", "-", "per-category iIoU",
         "cityscapes with --instances only: category → the evaluator's instance-level IoU (its "
         "categoryInstScores)"),
        ("<convention>.per_category_iiou.<category>", "float", "fraction", "iIoU of <category>",
         "the category's instance-weighted IoU; null for a category with a class without instances"),
    ])

_CONFIG = _section(
    "Configuration", "metrics.json",
    "`config`: every policy of the run, so that any number can be traced.", "core", "config", [
        ("class_spec", "str", "text", "class spec", "the class spec: a preset name or the file it was read from"),
        ("num_classes", "int", "count", "number of classes", "the classes of the spec"),
        ("class_ids", "list[int]", "id", "label ids", "the label id of each class, in order"),
        ("ignore_index", "int", "id", "ignore label", "GT pixels with this id count nowhere; null: none", _NULL),
        ("exclude", "list[str]", "text", "excluded classes", "--exclude: classes left out of the means"),
        ("allow_unknown_pred", "bool", "flag", "unknown predicted ids allowed",
         "--allow-unknown-pred: unknown predicted ids count as misses instead of failing"),
        ("analyses", "list[str]", "text", "analyses", "the analyses that ran, in order"),
        ("conventions", "list[str]", "text", "extra conventions",
         "--convention: conventions computed besides the defaults, each NAME:key=value,...", "conventions"),
        ("worst_k", "int", "count", "worst-k", "how many worst images and failure cases are listed"),
        ("pred_dir", "str", "text", "predictions folder", "where the predicted masks were read"),
        ("gt_dir", "str", "text", "GT folder", "where the GT masks were read"),
        ("pred_suffix", "str", "text", "prediction suffix", "the file-name suffix stripped from predictions"),
        ("gt_suffix", "str", "text", "GT suffix", "the file-name suffix stripped from GT masks"),
        ("pred_ids", "str", "text", "prediction id kind",
         "Cityscapes specs: the ids the predictions hold (--pred-ids); null for other specs", _NULL),
        ("gt_ids", "str", "text", "GT id kind",
         "Cityscapes specs: the ids the GT masks hold (--gt-ids); null for other specs", _NULL),
        ("images_dir", "str", "text", "images folder", "where the images for the panels are (--images)", _NULL),
        ("predictions", "str", "text", "predictions", "segscope demo: baseline or synthetic predictions"),
        ("checkpoint_epoch", "int", "count", "checkpoint epoch",
         "validation runs of the baseline: the epoch of the checkpoint evaluated"),
        ("boundary_ratio", "float", "fraction", "boundary ratio",
         "--boundary-ratio: band width d = max(1, round(ratio × image diagonal))", "boundary"),
        ("boundary_px", "int", "px", "boundary width setting",
         "--boundary-px: a fixed band width d; null when it follows the ratio", "boundary", _NULL),
        ("bf_ratio", "float", "fraction", "BF tolerance ratio",
         "--bf-ratio: tolerance θ = ratio × image diagonal", "boundary"),
        ("trimap", "list[int]", "px", "trimap widths", "--trimap: the widths of the trimap bands", "boundary"),
        ("boundary_px_used", "list[int]", "px", "boundary widths used",
         "the band widths d used (one per distinct image size)", "boundary"),
        ("bf_tolerance_px_used", "list[float]", "px", "BF tolerances used",
         "the tolerances θ used (rounded to 4 decimals)", "boundary"),
        ("error_band_ratio", "float", "fraction", "error band ratio",
         "--error-band-ratio: error band width d = round(ratio × image diagonal)", "errors"),
        ("error_band_px", "int", "px", "error band width setting",
         "--error-band-px: a fixed error band width; null when it follows the ratio", "errors", _NULL),
        ("error_band_px_used", "list[int]", "px", "error band widths used",
         "the error band widths d used", "errors"),
        ("segment_bins", "list[float]", "fraction", "segment size bins",
         "--segment-bins: the size bin edges as fractions of the image area", "errors"),
        ("miss_threshold", "float", "fraction", "miss threshold",
         "--miss-threshold: a GT segment with recall below it is missed", "errors"),
        ("instances_dir", "str", "text", "instance masks folder", "--instances: the instance masks", "errors", _NULL),
        ("gt2_dir", "str", "text", "second annotation folder", "--gt2: the second annotation", "errors", _NULL),
        ("probs_dir", "str", "text", "probabilities folder", "--probs: the model probabilities", "errors", _NULL),
    ])

_PER_IMAGE = _section(
    "per_image.csv", "per_image.csv",
    "One row per image, sorted by image id; an empty cell is an undefined value. Image-level means "
    "are over the classes in that image's GT, not excluded.", "core", "", [
        ("image", "str", "text", "image", "the image id: its file name without suffix"),
        ("height", "int", "px", "height", "the image height"),
        ("width", "int", "px", "width", "the image width"),
        ("valid_pixels", "int", "pixels", "labelled pixels", "the image's pixels whose GT is not the ignore label"),
        ("pixel_accuracy", "float", "fraction", "pixel accuracy", "the image's share of labelled pixels right"),
        ("miou", "float", "fraction", "mIoU", "the image's mean IoU over the classes in its GT"),
        ("iou_<class>", "float", "fraction", "IoU of <class>", "the class's IoU in this image; empty when its union is"),
        ("boundary_px", "int", "px", "boundary width", "the band width d of this image", "boundary"),
        ("boundary_miou", "float", "fraction", "boundary mIoU",
         "the image's mean boundary IoU over the classes in its GT", "boundary"),
        ("mbf_score", "float", "fraction", "boundary F-score",
         "the image's mean BF score over the classes where it is defined", "boundary"),
        ("e_<type>_ou", "float", "fraction", "<type> errors, share of the union",
         "the image's mean of (FP + FN <type> errors) / union; mIoU and the three shares sum to 1", "errors"),
        ("fp_<type>_ou", "float", "fraction", "false-positive <type> errors, share of the union",
         "the image's mean of FP <type> errors / union", "errors"),
        ("fn_<type>_ou", "float", "fraction", "false-negative <type> errors, share of the union",
         "the image's mean of FN <type> errors / union", "errors"),
        ("e_<type>_renormed", "float", "fraction", "<type> error rate, renormalised",
         "the image's mean of the renormalised rate (as per_class.<class>.e_<type>_renormed)", "errors"),
        ("error_share", "float", "fraction", "error share", "1 − the image's mean breakdown IoU", "errors"),
        ("dominant_error", "str", "text", "dominant error",
         "the error type with the largest share: " + ", ".join(ERROR_TYPES) + " or none", "errors"),
        ("err_<type>_px", "int", "pixels", "<type> error pixels",
         "FP + FN pixels of the type in this image, all classes", "errors"),
        ("error_band_px", "int", "px", "error band width", "the error band width d of this image", "errors"),
        ("sliver_px", "int", "pixels", "sliver pixels", "the image's boundary-error pixels in slivers", "errors"),
        ("gt_segments", "int", "count", "GT segments", "the image's GT segments", "errors"),
        ("missed_segments", "int", "count", "missed segments",
         "GT segments with recall below the miss threshold", "errors"),
        ("missed_segment_rate", "float", "fraction", "missed segment rate", "missed_segments / gt_segments", "errors"),
        ("invented_segments", "int", "count", "invented segments",
         "predicted components with no pixel on GT of their class", "errors"),
        ("ambiguous_pixels", "int", "pixels", "ambiguous pixels",
         "labelled pixels where the two annotations disagree; with --gt2", "errors"),
        ("ambiguous_error_share", "float", "fraction", "share of errors on ambiguous pixels",
         "the model's FP + FN on ambiguous pixels / all its FP + FN in this image; with --gt2", "errors"),
        ("suspect_labels", "int", "count", "suspect labels", "the image's suspect GT segments; with --probs", "errors"),
    ])

_PER_IMAGE_CLASSES = _section(
    "per_image_classes.csv", "per_image_classes.csv",
    "One row per (image, class) with pixels in the image's union: the per-image counts in long format.",
    "core", "", [
        ("image", "str", "text", "image", "the image id"),
        ("class", "str", "text", "class", "the class name"),
        ("tp", "int", "pixels", "true positives", "the class's TP pixels in this image"),
        ("fp", "int", "pixels", "false positives", "the class's FP pixels in this image"),
        ("fn", "int", "pixels", "false negatives", "the class's FN pixels in this image"),
        ("iou", "float", "fraction", "IoU", "tp / (tp + fp + fn) in this image"),
        ("dice", "float", "fraction", "Dice", "2 tp / (2 tp + fp + fn) in this image"),
        ("precision", "float", "fraction", "precision", "tp / (tp + fp) in this image"),
        ("recall", "float", "fraction", "recall", "tp / (tp + fn) in this image"),
    ])

_CONFUSION_CSV = _section(
    "confusion_matrix.csv", "confusion_matrix.csv",
    "The pooled confusion matrix with class names: one row per GT class (with more than "
    f"{DENSE_MATRIX_CLASSES} classes, only the classes present in the GT or the predictions, as rows and "
    "as columns).", "core", "", [
        ("gt\\pred", "str", "text", "GT class", "the row's GT class"),
        ("<class>", "int", "pixels", "predicted as <class>", "pixels of the row's GT class predicted as this class"),
    ])

_BOX = [
    ("y0", "int", "px", "top", "the first row of the bounding box"),
    ("x0", "int", "px", "left", "the first column of the bounding box"),
    ("y1", "int", "px", "bottom", "the row after the bounding box"),
    ("x1", "int", "px", "right", "the column after the bounding box"),
]

_MISSED_CSV = _section(
    "missed_segments.csv", "missed_segments.csv",
    "Every missed GT segment (at most 500 per image, largest first), sorted by image.", "errors", "", [
        ("image", "str", "text", "image", "the image id"),
        ("class", "str", "text", "class", "the segment's GT class"),
        ("size", "int", "pixels", "size", "the segment's labelled pixels"),
        ("relative_size", "float", "fraction", "relative size", "size / image area"),
        *_BOX,
        ("recall", "float", "fraction", "recall", "the segment's pixels predicted as its class / its size"),
        ("iou", "float", "fraction", "segment IoU",
         "those pixels / (its size + the FP pixels of the predicted components of its class overlapping it)"),
        ("predicted_as", "str", "text", "predicted as",
         "the other class most of its pixels are predicted as; empty when none"),
    ])

_INVENTED_CSV = _section(
    "invented_segments.csv", "invented_segments.csv",
    "Every invented segment: a predicted component with no pixel on GT of its class (at most 500 per "
    "image, largest first), sorted by image.", "errors", "", [
        ("image", "str", "text", "image", "the image id"),
        ("class", "str", "text", "class", "the predicted class"),
        ("size", "int", "pixels", "size", "the component's pixels"),
        ("relative_size", "float", "fraction", "relative size", "size / image area"),
        *_BOX,
        ("gt_under", "str", "text", "GT under it", "the GT class covering most of it; empty when none"),
    ])

_SUSPECT_CSV = _section(
    "suspect_labels.csv", "suspect_labels.csv",
    "Every suspect GT segment (with --probs), most contradicted first.", "errors", "", [
        ("image", "str", "text", "image", "the image id"),
        ("class", "str", "text", "class", "the segment's GT class"),
        ("size", "int", "pixels", "size", "the segment's labelled pixels"),
        *_BOX,
        ("label_prob", "float", "probability", "label probability",
         "the mean probability of its GT label over the segment"),
        ("model_class", "str", "text", "model's class", "the other class the model's argmax picks most often"),
        ("model_share", "float", "fraction", "model's class share",
         "the segment's pixels whose argmax is model_class / its size"),
    ])

#: every section, in the order of the docs page
SECTIONS: tuple[Section, ...] = (
    _RUN, _SUMMARY, _PER_CLASS, _BOUNDARY, _ERRORS, _CONVENTIONS, _CONFIG, _PER_IMAGE, _PER_IMAGE_CLASSES, _CONFUSION_CSV,
    _MISSED_CSV, _INVENTED_CSV, _SUSPECT_CSV,
)
#: every field
FIELDS: tuple[Field, ...] = tuple(f for s in SECTIONS for f in s.fields)

#: the words the definitions use
TERMS: tuple[Term, ...] = (
    Term("labelled pixel", "a pixel whose GT is not the ignore label; ignored pixels count nowhere", "core"),
    Term("present class", "a class with a non-empty union tp + fp + fn; the others are absent, their IoU null, "
         "and they leave every mean", "core"),
    Term("pooled", "counts summed over all images before dividing: dataset IoU is summed intersections over "
         "summed unions, never a mean of per-image IoUs", "core"),
    Term("band width d", "boundary metrics: d = max(1, round(boundary ratio × image diagonal)) px per image, or "
         "--boundary-px; a class's band is its pixels within chessboard distance d of another label, the "
         "ignore label or the image frame", "boundary"),
    Term("tolerance θ", "BF score: θ = bf ratio × image diagonal px; a contour pixel matches when the other "
         "contour lies at a Euclidean distance < θ", "boundary"),
    Term("trimap band", "the labelled pixels at a Euclidean distance < w of a pixel with a 4-neighbour holding "
         "another GT value", "boundary"),
    Term("boundary error", "an FP or FN pixel of a thin region along a true boundary: within the error band d of "
         "both a TP and a TN pixel of the class (Bernhard et al., WACV 2024)", "errors"),
    Term("extent error", "an FP (FN) pixel of a predicted (GT) segment that was found (it holds a TP pixel) but "
         "has the wrong extent", "errors"),
    Term("segment error", "an FP (FN) pixel of a predicted (GT) segment without any TP pixel: an invented "
         "(missed) segment", "errors"),
    Term("share of the union", "error pixels / (tp + fp + fn) of a class, so IoU + boundary + extent + "
         "segment shares = 1", "errors"),
    Term("GT segment", "an 8-connected component of one class in the GT, or an instance with --instances; "
         "missed when its recall is below the miss threshold", "errors"),
)
