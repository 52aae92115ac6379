"""The one process pool: a bounded window of tasks in flight, results in input order.

Every parallel loop of segscope (evaluation, checks, conversion, report panels) runs through here:

- at most ``window_per_job × jobs`` tasks are submitted and not yet handed back, so memory stays
  bounded however long the list;
- results come back in input order; an error (or an abandoned generator) cancels the queued work;
- workers run their kernels single-threaded (parallelism comes from the processes) and get fresh
  stdio objects (a forked child must not depend on locks another thread of the parent, such as a
  progress bar's refresh thread, may have held at the moment of the fork);
- workers never outlive the process that started them: on Linux the kernel kills them when it
  dies (``prctl(PR_SET_PDEATHSIG, SIGKILL)``), elsewhere a thread in each worker polls its parent
  once a second; Ctrl-C goes to the parent alone (workers ignore SIGINT), which cancels the queued
  work;
- a worker that dies (``kill -9``, the out-of-memory killer) stops the loop with a one-line
  :class:`WorkerDied` naming the task in flight, not a ``BrokenProcessPool`` traceback.

``SEGSCOPE_START_METHOD`` (``fork``, ``forkserver`` or ``spawn``) overrides the start method of
every pool.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable, Iterator, Sequence

from ..exceptions import SegscopeError

__all__ = [
    "AUTO_POOL_MIN", "WorkerDied", "default_jobs", "start_method", "init_worker", "watch_parent", "process_pool",
    "windowed", "pool_map",
]

_task: tuple | None = None  # (func, args) of pool_map, in each worker
_slot: tuple | None = None  # (board, index) where this worker notes the number of its task

#: with ``jobs=0`` :func:`pool_map` runs smaller batches in this process
AUTO_POOL_MIN = 32


def default_jobs() -> int:
    """Worker processes by default: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def start_method(preferred: str | None = None) -> str:
    """The start method of a pool: ``SEGSCOPE_START_METHOD`` when set, else ``preferred``, else
    ``fork`` on Linux and ``spawn`` elsewhere (``preferred`` applies on Linux only)."""
    forced = os.environ.get("SEGSCOPE_START_METHOD")
    if forced:
        return forced
    if not sys.platform.startswith("linux"):
        return "spawn"
    return preferred or "fork"


def init_worker() -> None:
    """Set up a worker process: single-threaded kernels, fresh stdio objects."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    try:
        sys.stdout = open(1, "w", closefd=False, buffering=1)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False, buffering=1)  # noqa: SIM115
    except OSError:  # pragma: no cover - no such descriptors
        pass


#: seconds between two looks at the parent, where the kernel cannot watch it (not Linux)
PARENT_POLL_S = 1.0
#: seconds the running tasks of a pool stopped by an error get to finish before it kills them
STOP_GRACE_S = 10.0
#: seconds to wait for the exit status of the workers of a broken pool
DEAD_WORKER_WAIT_S = 5.0


class WorkerDied(SegscopeError):
    """A worker process of the pool died (killed by a signal, e.g. by the out-of-memory killer,
    or exited) while tasks were in flight; the loop stops."""


def _set_death_signal() -> bool:
    """Ask the Linux kernel to SIGKILL this process when the thread that forked it ends (for our
    pools: the main thread of the parent, i.e. the parent). False where unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        return libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def watch_parent(parent: int | None = None, death_signal: bool = True) -> None:
    """Make this process end when its parent does.

    ``parent``: the pid the parent had (None: the current parent). With ``death_signal`` (and on
    Linux) the kernel kills this process when the parent's forking thread ends; otherwise a
    daemon thread polls :func:`os.getppid` every :data:`PARENT_POLL_S` seconds and ends the
    process once it changes (the parent died and the process was handed to another).
    """
    parent = os.getppid() if parent is None else parent
    armed = death_signal and _set_death_signal()
    if os.getppid() != parent:  # the parent died before the kernel was told
        os._exit(1)
    if armed:
        return

    def poll() -> None:
        import time

        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=poll, name="segscope-parent-watch", daemon=True).start()


def _start_worker(parent: int | None, death_signal: bool, board, taken, initializer: Callable,
                  initargs: tuple) -> None:
    global _slot
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler (inherited on fork)
    watch_parent(parent, death_signal)
    with taken.get_lock():
        index = taken.value
        taken.value += 1
    if 2 * index < len(board):
        board[2 * index] = os.getpid()
        _slot = (board, 2 * index + 1)
    initializer(*initargs)


def _tracked(fn: Callable, number: int, item):
    """Run ``fn(item)`` in a worker with the task's number on the pool's board meanwhile."""
    if _slot is None:
        return fn(item)
    board, at = _slot
    board[at] = number + 1
    try:
        return fn(item)
    finally:
        board[at] = 0


class _Pool(ProcessPoolExecutor):
    """A :class:`ProcessPoolExecutor` whose workers note on a shared board (pid, number of the task
    running + 1) so that the task of a worker that dies can be named."""

    def __init__(self, jobs: int, ctx, parent: int | None, death_signal: bool, initializer: Callable,
                 initargs: tuple) -> None:
        self.board = ctx.Array("q", 2 * jobs, lock=False)
        taken = ctx.Value("i", 0)
        self._noting = _NotingContext(ctx)
        super().__init__(jobs, mp_context=self._noting, initializer=_start_worker,
                         initargs=(parent, death_signal, self.board, taken, initializer, initargs))

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            return super().__exit__(exc_type, exc, tb)
        self.stop()
        return False

    def stop(self) -> None:
        """Stop after an error (Ctrl-C, SIGTERM, a worker that died): drop the queued tasks, give
        the running ones :data:`STOP_GRACE_S` seconds to finish, then kill the workers left (those
        the pool's manager thread never told to exit, e.g. one whose start a signal cut short)."""
        manager = getattr(self, "_executor_manager_thread", None)
        try:
            self.shutdown(wait=False, cancel_futures=True)
            if manager is not None and manager.is_alive():
                manager.join(STOP_GRACE_S)
        finally:
            for p in self._noting.made:
                if p.is_alive():
                    p.kill()
                    p.join()


class _NotingContext:
    """A start-method context that notes every process it makes: a signal can cut the pool's
    start of a worker short before the pool registers it, and that worker must be stopped too."""

    def __init__(self, ctx) -> None:
        self._ctx = ctx
        self.made: list = []

    def __getattr__(self, name: str):
        return getattr(self._ctx, name)

    def Process(self, *args, **kwargs):  # noqa: N802 - the name multiprocessing calls
        process = self._ctx.Process(*args, **kwargs)
        self.made.append(process)
        return process


def process_pool(
    jobs: int, method: str | None = None, initializer: Callable | None = None, initargs: tuple = ()
) -> ProcessPoolExecutor:
    """A pool of ``jobs`` processes started with ``method`` (see :func:`start_method`); each
    worker runs ``initializer(*initargs)``, or :func:`init_worker` when none is given, after
    :func:`watch_parent`.

    The workers are started by the thread that first submits work; the kernel's death signal is
    used only when that is the main thread (a worker must not die with a short-lived thread), else
    the workers poll. Workers of ``forkserver`` are children of the fork server, which exits when
    this process does.
    """
    import multiprocessing as mp

    method = method or start_method()
    parent = os.getpid() if method != "forkserver" else None
    death_signal = threading.current_thread() is threading.main_thread()
    return _Pool(jobs, mp.get_context(method), parent, death_signal, initializer or init_worker, initargs)


def _dead_worker(pool) -> tuple[int | None, str]:
    """The pid of the worker whose death broke ``pool`` and how it died ("killed by signal 9"),
    as far as its exit status tells (None, "cause unknown" otherwise)."""
    import time

    procs = dict(getattr(pool, "_processes", None) or {})
    # A worker's pipes close a moment before its exit status can be read, and the pool's own
    # thread reaps the workers meanwhile: look again until a cause shows or every worker is gone.
    deadline = time.monotonic() + DEAD_WORKER_WAIT_S
    while True:
        codes = {pid: p.exitcode for pid, p in procs.items()}
        # the pool terminates (SIGTERM) the survivors of a broken pool: another code is the cause
        cause = {pid: c for pid, c in codes.items() if c and c != -signal.SIGTERM}
        if cause or None not in codes.values() or time.monotonic() > deadline:
            break
        time.sleep(0.005)
    cause = cause or {pid: c for pid, c in codes.items() if c}
    if not cause:
        return None, "cause unknown"
    pid, code = min(cause.items())
    if code < 0:
        hint = ", e.g. by the out-of-memory killer" if -code == signal.SIGKILL else ""
        return pid, f"killed by signal {-code}{hint}"
    return pid, f"exit code {code}"


def _task_of(pool, pid: int | None) -> int | None:
    """The number of the task worker ``pid`` was running, from the pool's board."""
    board = getattr(pool, "board", None)
    if board is None or pid is None:
        return None
    for at in range(0, len(board), 2):
        if board[at] == pid and board[at + 1] > 0:
            return board[at + 1] - 1
    return None


def windowed(pool, fn: Callable, items: Iterable, window: int,
             describe: Callable[[object], str] | None = None) -> Iterator:
    """Submit ``fn(item)`` to ``pool`` so that at most ``window`` are pending; yield the results in
    input order. Items are taken from ``items`` only as the window frees up.

    A worker that dies raises :class:`WorkerDied` naming the item it was running
    (``describe(item)``, e.g. ``"evaluating street_0003"``; the oldest in flight where the pool
    cannot tell).
    """
    pending: deque = deque()  # (future, task number, item)
    it = iter(items)
    number = 0
    tracked = getattr(pool, "board", None) is not None  # a pool of process_pool's

    def submit(item) -> None:
        nonlocal number
        fut = pool.submit(_tracked, fn, number, item) if tracked else pool.submit(fn, item)
        pending.append((fut, number, item))
        number += 1

    try:
        for item in it:
            submit(item)
            if len(pending) >= window:
                break
        while pending:
            result = pending[0][0].result()
            pending.popleft()
            item = next(it, None)
            if item is not None:
                submit(item)
            yield result
    except BrokenProcessPool:
        pid, how = _dead_worker(pool)
        lost = _task_of(pool, pid)
        named = [item for _, n, item in pending if n == lost]
        if named:
            what = describe(named[0]) if describe is not None else f"running task {lost + 1}"
        else:
            first = pending[0][2] if pending else item
            what = describe(first) if describe is not None else "running a task"
            what += f" (one of {len(pending)} in flight)" if len(pending) > 1 else ""
        raise WorkerDied(f"a worker process died ({how}) while {what}; the run was stopped") from None
    finally:
        for fut, _, _ in pending:  # an error (or an abandoned generator): drop the queued work
            fut.cancel()


def _init_task(func: Callable, args: tuple, initializer: Callable | None) -> None:
    global _task
    init_worker()
    if initializer is not None:
        initializer()
    _task = (func, args)


def _call_task(task: tuple):
    func, args = _task  # type: ignore[misc]
    return func(*task, *args)


def pool_map(
    func: Callable, tasks: Sequence[tuple], args: tuple = (), jobs: int | None = None,
    advance: Callable[[int], None] | None = None, *, min_tasks: int = AUTO_POOL_MIN, method: str | None = None,
    window_per_job: int = 2, initializer: Callable | None = None, describe: Callable[[tuple], str] | None = None,
) -> Iterator:
    """Yield ``func(*task, *args)`` for every task, in order, over ``jobs`` processes.

    Parameters
    ----------
    func, tasks, args : what to run; ``func`` and ``args`` reach each worker once, tasks one by one.
    jobs : processes (1: in this process; 0 or None: all cores, except that fewer than
        ``min_tasks`` tasks run in this process, where starting workers would cost more than it
        saves).
    advance : called with 1 after each result.
    method : the preferred start method (see :func:`start_method`).
    window_per_job : tasks in flight per worker.
    initializer : run (without arguments) in each worker after :func:`init_worker`.
    describe : names a task for the message of a worker that dies (``"drawing the panel of x"``).

    Examples
    --------
    >>> list(pool_map(divmod, [(7, 2), (9, 4)], jobs=1))
    [(3, 1), (2, 1)]
    """
    if not jobs or jobs < 1:
        jobs = default_jobs() if len(tasks) >= min_tasks else 1
    jobs = min(jobs, len(tasks)) or 1
    if jobs == 1:
        for task in tasks:
            out = func(*task, *args)
            if advance:
                advance(1)
            yield out
        return
    with process_pool(jobs, start_method(method), _init_task, (func, args, initializer)) as pool:
        for out in windowed(pool, _call_task, tasks, window_per_job * jobs, describe):
            if advance:
                advance(1)
            yield out
