"""Pictures: colourised masks, error maps, per-image panels and summary plots.

Everything here works on *class-index* masks (``0 .. K-1``, see :mod:`segscope.classes`) and
returns NumPy RGB arrays or matplotlib figures drawn on the Agg canvas (no display, no global
pyplot state), so the functions are safe in worker processes.

Masks (:mod:`segscope.viz.masks`)
    colorize, overlay, label_edges, error_types, error_map, band_outline, worst_window,
    boundary_comparison, image_class_iou
Panels (:mod:`segscope.viz.panels`)
    PanelData, panel_data, panel_image, panel (a PIL image for notebooks), save_panel, save_rgb, compare_image
Plots (:mod:`segscope.viz.plots`)
    plot_class_imbalance, plot_confusion, plot_error_breakdown, plot_segment_recall, plot_trimap,
    error_shares, figure_rgb, save_figure
"""

from .masks import *  # noqa: F401,F403
from .masks import __all__ as _masks_all
from .panels import *  # noqa: F401,F403
from .panels import __all__ as _panels_all
from .plots import *  # noqa: F401,F403
from .plots import __all__ as _plots_all

__all__ = [*_masks_all, *_panels_all, *_plots_all]
