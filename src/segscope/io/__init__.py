"""Input and output: listing and pairing files, reading masks by role, writing results safely.

Files (:mod:`segscope.io.files`)
    list_files (the one lister), list_masks, list_images, pair_masks, Pair, AuxIndex
Masks (:mod:`segscope.io.masks`)
    read_mask, read_pair (a prediction and its GT, each in its role's id space), write_mask,
    read_image, read_npy_mask, rgb_to_ids, load_probs
Results (:mod:`segscope.io.results`)
    atomic_write, write_json, clean_json, staged_results (one complete run per folder),
    write_manifest, read_manifest
"""

from .files import *  # noqa: F401,F403
from .files import __all__ as _files_all
from .masks import *  # noqa: F401,F403
from .masks import __all__ as _masks_all
from .results import *  # noqa: F401,F403
from .results import __all__ as _results_all

__all__ = [*_files_all, *_masks_all, *_results_all]
