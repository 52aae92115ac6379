"""The evaluation engine: a run's config, its analyzers, the per-image states, and the runners.

Config (:mod:`segscope.engine.config`)
    EvalConfig
Analyzers (:mod:`segscope.engine.analyzers`)
    the registry and protocol; core, boundary and failure analysis
Evaluation (:mod:`segscope.engine.evaluation`)
    Evaluation (update / merge / compute / save), evaluate_pair, evaluate_arrays
Sinks (:mod:`segscope.engine.sinks`)
    where per-image rows and records go: MemorySink, DiskSink; TopK, the bounded rankings
Runners (:mod:`segscope.engine.runners`, :mod:`segscope.engine.dask`)
    run_evaluation: serial, one bounded process pool, or a Dask cluster
Pool (:mod:`segscope.engine.pool`)
    the bounded process pool every parallel loop uses (evaluation, checks, conversion, panels)
"""

from .config import EvalConfig
from .evaluation import Evaluation, evaluate_arrays, evaluate_pair
from .runners import run_evaluation

__all__ = ["EvalConfig", "Evaluation", "evaluate_arrays", "evaluate_pair", "run_evaluation"]
