"""Other libraries' mIoU conventions, reproduced from segscope's pooled and per-image counts.

Every peer defines "mIoU" its own way: what an absent class (empty union) is worth, which classes
enter the mean, whether IoU is pooled over the dataset or averaged over images. Each function here
reproduces one peer's definition exactly from the same integer counts segscope keeps (the K×K
confusion matrix, the GT pixels of each class, and each image's per-class tp, fp, fn), so no
second pass over the pixels is needed. ``docs/conventions.md`` gives every definition with the
peer's file and function.

A convention is named ``NAME`` or ``NAME:key=value,...`` (:func:`parse_convention`); its block
(:func:`convention_block`) holds ``miou`` (the peer's headline mean IoU), ``per_class_iou`` and
the peer's own headline figures under the peer's key names, as unrounded fractions (or the peer's
fill value, such as -1); the ``cityscapes`` block also holds the evaluator's per-category
scores and, with instances, its per-class and per-category instance-level scores.

>>> import numpy as np
>>> data = ConventionData(cm=np.array([[3, 1], [0, 0]]), gt=np.array([4, 0]), names=("a", "b"),
...                       sums=ImageSums.of([[3, 0]], [[0, 1]], [[1, 0]]))
>>> convention_block("detectron2", data)["miou"], convention_block("segscope", data)["miou"]
(0.75, 0.375)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable

import numpy as np

from .._numbers import finite_or_none, nanmean, ratio
from ..exceptions import SegscopeError
from .region import class_counts_from_confusion
from .segments import instance_rows

__all__ = [
    "ConventionData",
    "ImageSums",
    "image_sums",
    "CONVENTIONS",
    "FIGURES",
    "CITYSCAPES_CATEGORIES",
    "CITYSCAPES_AVG_CLASS_SIZE",
    "cityscapes_groups",
    "default_conventions",
    "parse_convention",
    "convention_block",
    "convention_values",
]


@dataclass(frozen=True)
class ImageSums:
    """What the conventions that average over images need of each image's per-class counts,
    summed image by image (so memory does not grow with the number of images).

    Attributes
    ----------
    images : the number of images.
    iou_sum : per class, Σ over the images where its union is non-empty of its IoU there.
    iou_count : per class, the number of those images.
    fp_images : per class, the number of images where it is predicted at a pixel not of it.
    micro_sum, micro_count : Σ over the images with a non-empty union of all classes of the
        image's pooled IoU (all classes' tp over all classes' tp + fp + fn), and their number.
    """

    images: int
    iou_sum: np.ndarray
    iou_count: np.ndarray
    fp_images: np.ndarray
    micro_sum: float = 0.0
    micro_count: int = 0

    @classmethod
    def empty(cls, num_classes: int) -> "ImageSums":
        k = int(num_classes)
        return cls(0, np.zeros(k), np.zeros(k, np.int64), np.zeros(k, np.int64))

    @classmethod
    def of(cls, tp, fp, fn) -> "ImageSums":
        """The sums of the n × K per-image counts ``tp``, ``fp``, ``fn``."""
        tp, fp, fn = (np.asarray(a, np.int64).reshape(len(a), -1) for a in (tp, fp, fn))
        union = tp + fp + fn
        valid = union > 0
        iou = np.where(valid, _div(tp, np.where(valid, union, 1)), 0.0)
        micro_den = union.sum(axis=1)
        micro_valid = micro_den > 0
        micro = _div(tp.sum(axis=1)[micro_valid], micro_den[micro_valid])
        return cls(len(tp), _add_rows(iou), valid.sum(axis=0), (fp > 0).sum(axis=0),
                   float(_add_rows(micro[:, None])[0]) if micro.size else 0.0, int(micro_valid.sum()))

    def __add__(self, other: "ImageSums") -> "ImageSums":
        return ImageSums(self.images + other.images, _add_rows(np.vstack([self.iou_sum, other.iou_sum])),
                         self.iou_count + other.iou_count, self.fp_images + other.fp_images,
                         self.micro_sum + other.micro_sum, self.micro_count + other.micro_count)


def _add_rows(a: np.ndarray) -> np.ndarray:
    """The sum of the rows of ``a``, added one after another (as NumPy reduces axis 0)."""
    return np.add.reduce(np.asarray(a, np.float64), axis=0) if len(a) else np.zeros(np.shape(a)[1:])


def image_sums(chunks, num_classes: int) -> ImageSums:
    """:class:`ImageSums` of ``(tp, fp, fn)`` blocks of per-image counts, in image order."""
    total = ImageSums.empty(num_classes)
    for tp, fp, fn in chunks:
        if len(tp):
            total = total + ImageSums.of(tp, fp, fn)
    return total


@dataclass(frozen=True)
class ConventionData:
    """The counts every convention is computed from.

    Attributes
    ----------
    cm : the K×K pixel counts pooled over the images (rows GT class, columns predicted class) at
        labelled pixels, dense or as :class:`~segscope.metrics.confusion.PairCounts` (many classes).
    gt : GT pixels of each class (labelled pixels predicted as no class included).
    names : the class names.
    sums : the per-image sums (:class:`ImageSums`), or None when each image's counts are unknown.
    miou_image : segscope's mean over images of each image's mIoU (``miou_image``).
    exclude : class indices left out of segscope's own means (``--exclude``).
    instances : rows ``(class, tp, size, group_tp)`` of every GT instance (``--instances``;
        :data:`~segscope.metrics.segments.INSTANCE_COLUMNS`), or None.
    """

    cm: Any
    gt: np.ndarray
    names: tuple[str, ...]
    sums: ImageSums | None = None
    miou_image: float = float("nan")
    exclude: tuple[int, ...] = ()
    instances: np.ndarray | None = None

    @property
    def per_image_known(self) -> bool:
        return self.sums is not None

    @cached_property
    def _cm_counts(self) -> dict[str, np.ndarray]:
        return class_counts_from_confusion(self.cm)

    @property
    def tp(self) -> np.ndarray:
        return self._cm_counts["tp"]

    @property
    def fp(self) -> np.ndarray:
        return self._cm_counts["fp"]

    @property
    def fn(self) -> np.ndarray:
        return np.asarray(self.gt, np.int64) - self.tp

    @property
    def pred(self) -> np.ndarray:
        """Pixels predicted as each class at labelled pixels (the column sums of ``cm``)."""
        return self._cm_counts["pred"]

    @property
    def gt_matched(self) -> np.ndarray:
        """GT pixels of each class predicted as some class (the row sums of ``cm``)."""
        return self._cm_counts["gt"]

    @property
    def is_cityscapes(self) -> bool:
        return tuple(self.names) == CITYSCAPES_ORDER


# ---------------------------------------------------------------------- helpers
def _values(values: np.ndarray) -> list:
    return [float(v) for v in np.asarray(values, np.float64)]


def _fill(values: np.ndarray, fill) -> np.ndarray:
    """NaN replaced by ``fill`` (None keeps NaN)."""
    values = np.asarray(values, np.float64)
    return values if fill is None else np.where(np.isnan(values), float(fill), values)


def _numpy_nanmean(values: np.ndarray) -> float:
    """``np.nanmean``: NaN when every value is NaN, else the mean of the others."""
    v = np.asarray(values, np.float64)
    v = v[~np.isnan(v)]
    return float(v.mean()) if v.size else float("nan")


def _div(a, b) -> np.ndarray:
    """``a / b`` with IEEE results (0/0 = NaN), as NumPy gives them."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(a, np.float64) / np.asarray(b, np.float64)


# ---------------------------------------------------------------------- the conventions
def _segscope(d: ConventionData) -> tuple[dict, np.ndarray]:
    tp, fp, fn, gt = d.tp, d.fp, d.fn, np.asarray(d.gt, np.int64)
    keep = np.ones(len(tp), bool)
    keep[list(d.exclude)] = False
    iou = ratio(tp, tp + fp + fn)
    total = gt.sum()
    freq = gt / total if total > 0 else np.zeros(len(tp))
    fw = keep & (gt > 0) & np.isfinite(iou)
    weight = freq[fw].sum()
    figures = {
        "miou": nanmean(iou, keep),
        "pixel_accuracy": float(tp.sum() / total) if total > 0 else float("nan"),
        "mean_accuracy": nanmean(ratio(tp, tp + fn), keep),
        "fwiou": float((freq[fw] * iou[fw]).sum() / weight) if weight > 0 else float("nan"),
        "miou_image": float(d.miou_image),
    }
    return figures, iou


def _mmseg(d: ConventionData, nan_to_num=None, beta=1.0) -> tuple[dict, np.ndarray]:
    tp, fp, fn = d.tp.astype(np.float64), d.fp.astype(np.float64), d.fn.astype(np.float64)
    label, pred = tp + fn, tp + fp
    union = pred + label - tp
    iou, acc = _div(tp, union), _div(tp, label)
    dice = _div(2 * tp, pred + label)
    precision, recall = _div(tp, pred), acc
    with np.errstate(divide="ignore", invalid="ignore"):
        fscore = (1 + beta ** 2) * (precision * recall) / ((beta ** 2 * precision) + recall)
    parts = {"IoU": iou, "Acc": acc, "Dice": dice, "Fscore": fscore, "Precision": precision, "Recall": recall}
    parts = {k: _fill(v, nan_to_num) for k, v in parts.items()}
    aacc = float(_fill(np.array([_div(tp.sum(), label.sum())]), nan_to_num)[0])
    figures = {"aAcc": aacc, **{"m" + k: _numpy_nanmean(v) for k, v in parts.items()}}
    return {"miou": figures["mIoU"], **figures}, parts["IoU"]


def _hf(d: ConventionData, nan_to_num=None) -> tuple[dict, np.ndarray]:
    tp, label = d.tp.astype(np.float64), np.asarray(d.gt, np.float64)
    union = label + (tp + d.fp) - tp
    iou, acc = _div(tp, union), _div(tp, label)
    figures = {"mean_iou": _numpy_nanmean(iou), "mean_accuracy": _numpy_nanmean(acc),
               "overall_accuracy": float(_div(tp.sum(), label.sum()))}
    figures = {k: float(_fill(np.array([v]), nan_to_num)[0]) for k, v in figures.items()}
    return {"miou": figures["mean_iou"], **figures}, _fill(iou, nan_to_num)


def _tm_meaniou(d: ConventionData, include_background=True) -> tuple[dict, np.ndarray]:
    start = 0 if include_background else 1
    total_score, total_valid = d.sums.iou_sum[start:], d.sums.iou_count[start:]
    per_class = _div(total_score, total_valid)
    total = float(_div(total_score.sum(), total_valid.sum()))
    per_class = np.where(np.isnan(per_class), -1.0, per_class)
    if not include_background:
        per_class = np.concatenate([[np.nan], per_class])
    return {"miou": total}, per_class


def _tm_jaccard(average: str) -> Callable:
    def jaccard(d: ConventionData, zero_division=0.0) -> tuple[dict, np.ndarray]:
        num, pred, gt = (np.asarray(a, np.float64) for a in (d.tp, d.pred, d.gt_matched))
        denom = pred + gt - num
        per_class = np.where(denom != 0, _div(num, np.where(denom != 0, denom, 1)), float(zero_division))
        if average == "micro":
            dm = denom.sum()
            miou = float(num.sum() / dm) if dm != 0 else float(zero_division)
        else:
            if average == "weighted":
                weights = gt
            else:
                weights = np.ones_like(per_class)
                weights[gt + pred == 0] = 0.0
            miou = float(((weights * per_class) / weights.sum()).sum())
        return {"miou": miou}, per_class

    return jaccard


def _detectron2(d: ConventionData) -> tuple[dict, np.ndarray]:
    tp, pos_gt, pos_pred = (np.asarray(a, np.float64) for a in (d.tp, d.gt_matched, d.pred))
    k = len(tp)
    acc, iou = np.full(k, np.nan), np.full(k, np.nan)
    class_weights = _div(pos_gt, pos_gt.sum())
    acc_valid = pos_gt > 0
    acc[acc_valid] = tp[acc_valid] / pos_gt[acc_valid]
    union = pos_gt + pos_pred - tp
    iou_valid = acc_valid & (union > 0)
    iou[iou_valid] = tp[iou_valid] / union[iou_valid]
    with np.errstate(divide="ignore", invalid="ignore"):
        figures = {
            "mIoU": float(np.sum(iou[iou_valid]) / np.sum(iou_valid)),
            "fwIoU": float(np.sum(iou[iou_valid] * class_weights[iou_valid])),
            "mACC": float(np.sum(acc[acc_valid]) / np.sum(acc_valid)),
            "pACC": float(np.sum(tp) / np.sum(pos_gt)),
        }
    return {"miou": figures["mIoU"], **figures}, iou


#: the 19 Cityscapes train classes in id order (the cityscapes convention needs them)
CITYSCAPES_ORDER = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation",
    "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle",
)
#: the Cityscapes categories of the evaluated classes, in the evaluator's order
CITYSCAPES_CATEGORIES = {
    "flat": ("road", "sidewalk"),
    "construction": ("building", "wall", "fence"),
    "object": ("pole", "traffic light", "traffic sign"),
    "nature": ("vegetation", "terrain"),
    "sky": ("sky",),
    "human": ("person", "rider"),
    "vehicle": ("car", "truck", "bus", "train", "motorcycle", "bicycle"),
}
#: the mean instance sizes (pixels) the official evaluator weighs instances with (its ``avgClassSize``)
CITYSCAPES_AVG_CLASS_SIZE = {
    "bicycle": 4672.3249222261, "motorcycle": 6298.7200839748, "rider": 3930.4788056518,
    "bus": 35732.1511111111, "train": 67583.7075812274, "car": 12794.0202738185, "person": 3462.4756337644,
    "truck": 27855.1264367816,
}


def cityscapes_groups(names) -> np.ndarray | None:
    """The index of each class's Cityscapes category (in :data:`CITYSCAPES_CATEGORIES` order) when
    ``names`` are the 19 Cityscapes classes, else None.

    >>> cityscapes_groups(CITYSCAPES_ORDER)[[0, 11, 13]].tolist(), cityscapes_groups(("a", "b"))
    ([0, 5, 6], None)
    """
    if tuple(names) != CITYSCAPES_ORDER:
        return None
    group = {name: i for i, members in enumerate(CITYSCAPES_CATEGORIES.values()) for name in members}
    return np.array([group[name] for name in CITYSCAPES_ORDER], np.int64)


def _score_average(scores) -> float:
    valid = [s for s in scores if not math.isnan(s)]
    total = 0.0
    for s in valid:
        total += s
    return total / len(valid) if valid else float("nan")


def _cityscapes(d: ConventionData) -> tuple[dict, np.ndarray]:
    if not d.is_cityscapes:
        raise SegscopeError("the cityscapes convention needs the 19 Cityscapes classes (--classes cityscapes)")
    cm = np.asarray(d.cm, np.int64)
    tp, fp, fn = d.tp, d.fp, d.fn
    den = tp + fp + fn
    iou = np.array([float(t) / n if n else float("nan") for t, n in zip(tp.tolist(), den.tolist())])
    index = {name: i for i, name in enumerate(d.names)}
    cat_scores, cat_fp = [], []
    for members in CITYSCAPES_CATEGORIES.values():
        ids = [index[m] for m in members]
        others = [i for i in range(len(d.names)) if i not in ids]
        ctp = int(cm[np.ix_(ids, ids)].sum())
        cfn = int(np.asarray(d.gt, np.int64)[ids].sum()) - ctp
        cfp = int(cm[np.ix_(others, ids)].sum())
        n = ctp + cfp + cfn
        cat_scores.append(float(ctp) / n if n else float("nan"))
        cat_fp.append(cfp)
    figures: dict[str, Any] = {"averageScoreClasses": _score_average(iou.tolist()),
                               "averageScoreCategories": _score_average(cat_scores)}
    if d.instances is not None:
        class_iiou, cat_iiou = _cityscapes_iiou(d, cat_fp)
        figures["averageScoreInstClasses"] = _score_average(class_iiou.tolist())
        figures["averageScoreInstCategories"] = _score_average(cat_iiou)
        figures["per_class_iiou"] = dict(zip(d.names, class_iiou.tolist()))
        figures["per_category_iiou"] = dict(zip(CITYSCAPES_CATEGORIES, cat_iiou))
    figures["per_category_iou"] = dict(zip(CITYSCAPES_CATEGORIES, cat_scores))
    return {"miou": figures["averageScoreClasses"], **figures}, iou


def _cityscapes_iiou(d: ConventionData, cat_fp: list[int]) -> tuple[np.ndarray, list[float]]:
    """The official instance-weighted IoU per class (NaN for the classes without instances) and
    per category (NaN for a category with a class without instances); ``cat_fp``: each
    category's FP pixels."""
    k = len(d.names)
    groups = cityscapes_groups(d.names)
    tpw, fnw = np.zeros(k), np.zeros(k)
    ctpw, cfnw = np.zeros(len(CITYSCAPES_CATEGORIES)), np.zeros(len(CITYSCAPES_CATEGORIES))
    for c, t, size, group_tp in instance_rows(d.instances).tolist():
        if size <= 0:
            continue
        weight = CITYSCAPES_AVG_CLASS_SIZE[d.names[c]] / float(size)
        tpw[c] += float(t) * weight
        fnw[c] += float(size - t) * weight
        ctpw[groups[c]] += float(group_tp) * weight
        cfnw[groups[c]] += float(size - group_tp) * weight
    out = np.full(k, np.nan)
    fp = d.fp
    for c, name in enumerate(d.names):
        if name in CITYSCAPES_AVG_CLASS_SIZE:
            den = tpw[c] + float(fp[c]) + fnw[c]
            out[c] = tpw[c] / den if den != 0 else np.nan
    cats = []
    for j, members in enumerate(CITYSCAPES_CATEGORIES.values()):
        den = ctpw[j] + float(cat_fp[j]) + cfnw[j]
        scored = all(m in CITYSCAPES_AVG_CLASS_SIZE for m in members) and den != 0
        cats.append(float(ctpw[j] / den) if scored else float("nan"))
    return out, cats


def _smp(reduction: str) -> Callable:
    def smp(d: ConventionData, zero_division=1.0) -> tuple[dict, np.ndarray]:
        zd = float(zero_division)
        weights = np.float64(1.0)
        if "weighted" in reduction:
            weights = np.asarray(d.gt, np.float64)
            weights = weights / weights.sum()
        tp, fp, fn = (np.asarray(a, np.float64) for a in (d.tp, d.fp, d.fn))
        pooled = np.nan_to_num(_div(tp, tp + fp + fn), nan=zd)
        if reduction == "micro":
            miou, per_class = float(_div(tp.sum(), tp.sum() + fp.sum() + fn.sum())), pooled
        elif reduction == "macro":
            miou, per_class = float((pooled * weights).mean()), pooled
        elif reduction == "weighted":
            miou, per_class = float((pooled * weights).sum()), pooled
        else:
            # each image's score, an empty union scoring zero_division, averaged over the images
            s, n = d.sums, d.sums.images
            per_class = (s.iou_sum + zd * (n - s.iou_count)) / n
            if reduction == "micro-imagewise":
                miou = (s.micro_sum + zd * (n - s.micro_count)) / n
            else:
                miou = float((per_class * weights).mean())
        return {"miou": float(miou)}, per_class

    return smp


_NUMBER, _NUMBER_OR_NONE, _BOOL = "a number", "a number or none", "true or false"

#: name -> (function, {option: (default, kind)}, what it reproduces)
CONVENTIONS: dict[str, tuple[Callable, dict[str, tuple[Any, str]], str]] = {
    "segscope": (_segscope, {}, "segscope's own definitions"),
    "mmseg": (_mmseg, {"nan_to_num": (None, _NUMBER_OR_NONE), "beta": (1.0, _NUMBER)},
              "mmseg IoUMetric (mmseg/evaluation/metrics/iou_metric.py)"),
    "hf": (_hf, {"nan_to_num": (None, _NUMBER_OR_NONE)}, "Hugging Face evaluate mean_iou"),
    "torchmetrics-meaniou": (_tm_meaniou, {"include_background": (True, _BOOL)},
                             "torchmetrics MeanIoU(per_class=True, input_format='index')"),
    "torchmetrics-jaccard-macro": (_tm_jaccard("macro"), {"zero_division": (0.0, _NUMBER)},
                                   "torchmetrics MulticlassJaccardIndex(average='macro')"),
    "torchmetrics-jaccard-micro": (_tm_jaccard("micro"), {"zero_division": (0.0, _NUMBER)},
                                   "torchmetrics MulticlassJaccardIndex(average='micro')"),
    "torchmetrics-jaccard-weighted": (_tm_jaccard("weighted"), {"zero_division": (0.0, _NUMBER)},
                                      "torchmetrics MulticlassJaccardIndex(average='weighted')"),
    "detectron2": (_detectron2, {}, "detectron2 SemSegEvaluator"),
    "cityscapes": (_cityscapes, {}, "the official Cityscapes pixel-level evaluator"),
    **{f"smp-{r}": (_smp(r), {"zero_division": (1.0, _NUMBER)}, f"smp.metrics.iou_score(reduction='{r}')")
       for r in ("micro", "macro", "weighted", "micro-imagewise", "macro-imagewise", "weighted-imagewise")},
}

#: every headline figure a convention block may hold besides ``miou`` and ``per_class_iou``
FIGURES = (
    "pixel_accuracy", "mean_accuracy", "fwiou", "miou_image",
    "aAcc", "mIoU", "mAcc", "mDice", "mFscore", "mPrecision", "mRecall", "mIoU",
    "mean_iou", "overall_accuracy", "fwIoU", "mACC", "pACC",
    "averageScoreClasses", "averageScoreCategories", "averageScoreInstClasses", "averageScoreInstCategories",
)
FIGURES = tuple(dict.fromkeys(FIGURES))


def default_conventions(names) -> tuple[str, ...]:
    """The conventions of every run: all of them, ``cityscapes`` only for the Cityscapes classes."""
    city = tuple(names) == CITYSCAPES_ORDER
    return tuple(n for n in CONVENTIONS if n != "cityscapes" or city)


def _parse_value(name: str, key: str, text: str, kind: str):
    low = text.strip().lower()
    if kind == _BOOL:
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
    elif kind == _NUMBER_OR_NONE and low in ("none", "null"):
        return None
    else:
        try:
            value = float(low)
        except ValueError:
            value = None
        if value is not None and math.isfinite(value):
            return value
    raise SegscopeError(f"convention {name!r}: option {key}={text!r} must be {kind}")


def parse_convention(text: str) -> tuple[str, dict]:
    """``"NAME:key=value,..."`` → ``(NAME, {key: value})``, checked against :data:`CONVENTIONS`.

    >>> parse_convention("mmseg:nan_to_num=0")
    ('mmseg', {'nan_to_num': 0.0})
    >>> parse_convention("mmseg:nan=0")
    Traceback (most recent call last):
    ...
    segscope.exceptions.SegscopeError: convention 'mmseg': unknown option 'nan'; its options are nan_to_num, beta
    """
    name, _, rest = str(text).strip().partition(":")
    name = name.strip()
    if name not in CONVENTIONS:
        raise SegscopeError(f"unknown convention {name!r}; choose from {', '.join(CONVENTIONS)}")
    known = CONVENTIONS[name][1]
    options: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip()
        if key not in known:
            valid = ", ".join(known) if known else "none"
            raise SegscopeError(f"convention {name!r}: unknown option {key!r}; its options are {valid}")
        if not eq:
            raise SegscopeError(f"convention {name!r}: option {key!r} needs a value ({key}=VALUE)")
        options[key] = _parse_value(name, key, value, known[key][1])
    return name, options


def convention_values(text: str, data: ConventionData) -> tuple[dict, np.ndarray]:
    """The headline figures (``miou`` first; a figure per class or per category as a mapping) and
    the per-class IoU array of one convention."""
    name, options = parse_convention(text)
    return CONVENTIONS[name][0](data, **options)


def convention_block(text: str, data: ConventionData) -> dict:
    """The ``conventions[text]`` block of ``metrics.json``: figures (a figure given per class or
    per category as a mapping) and ``per_class_iou`` (NaN as None)."""
    figures, per_class = convention_values(text, data)
    block: dict[str, Any] = {k: {n: finite_or_none(x) for n, x in v.items()} if isinstance(v, dict)
                             else finite_or_none(v) for k, v in figures.items()}
    block["per_class_iou"] = {n: finite_or_none(v) for n, v in zip(data.names, _values(per_class))}
    return block
