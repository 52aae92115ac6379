import numpy as np

import segscope


def test_seed_worked_examples():
    pred = [[0, 0, 1], [0, 1, 1], [0, 0, 1]]
    gt = [[0, 0, 1], [0, 1, 1], [0, 1, 1]]
    assert segscope.iou_per_class(pred, gt, num_classes=2)[1] == 0.8
    assert segscope.class_counts([[0, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]]) == {0: 14, 1: 2}


def test_confusion_matrix_ignore():
    pred = np.array([[0, 1, 2], [2, 2, 255]])
    gt = np.array([[0, 1, 1], [255, 2, 2]])
    cm = segscope.confusion_matrix(pred, gt, num_classes=3, ignore_index=255)
    assert cm.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
