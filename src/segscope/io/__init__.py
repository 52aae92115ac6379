"""Input and output: listing and pairing files, reading masks by role, writing results safely.

Files (:mod:`segscope.io.files`)
    list_files (the one lister), list_masks, list_images, pair_masks, PairTable, Pair, AuxIndex
Masks (:mod:`segscope.io.masks`)
    read_mask, read_pair (a prediction and its GT, each in its role's id space), write_mask,
    read_image, read_npy_mask, rgb_to_ids, load_probs
Results (:mod:`segscope.io.results`)
    atomic_write, write_json, clean_json, staged_results (one complete run per folder),
    write_manifest, read_manifest
Tables (:mod:`segscope.io.tables`)
    write_csv (the one CSV writer), csv_text
A finished run (:mod:`segscope.io.run_folder`)
    load_results, Results, read_rows, run_spec
"""

from .files import *  # noqa: F401,F403
from .files import __all__ as _files_all
from .masks import *  # noqa: F401,F403
from .masks import __all__ as _masks_all
from .results import *  # noqa: F401,F403
from .results import __all__ as _results_all
from .run_folder import *  # noqa: F401,F403
from .run_folder import __all__ as _run_folder_all
from .tables import *  # noqa: F401,F403
from .tables import __all__ as _tables_all

__all__ = [*_files_all, *_masks_all, *_results_all, *_tables_all, *_run_folder_all]
