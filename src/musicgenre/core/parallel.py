"""Per-track work in order on local worker processes, each limited to one CPU thread, or on
the workers of a Dask cluster.

Used by the features stage and by `predict`/`evaluate`. Every path, a worker process or the
caller's own process (workers = 1), runs the work under the same limits: one BLAS thread and
one torch thread. Thread counts change how BLAS and oneDNN split their sums, and so the last
bits of results (measured: one float16 step in 11 of 60 feature rows between 1 worker with 2
threads and 2 workers with 1), and N workers with N threads each on N cores oversubscribe them.
At most 2 x workers jobs are in flight, so finished results never pile up in memory while an
earlier, slower track is still being processed.

Given a Dask scheduler address, the same window of jobs goes to that cluster through
`distributed`'s executor: the scheduler places the jobs, and reruns those of a worker that
dies; a worker plugin prepares every worker (restarted ones too) exactly like a local one.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import partial

from threadpoolctl import threadpool_limits
from tqdm import tqdm

from musicgenre.core.process import ignore_interrupts, tune_allocator

_LIMITS: dict = {}


def single_thread() -> None:
    """Limit this process to one BLAS and one torch thread (undo with `restore_threads`)."""
    _LIMITS["blas"] = threadpool_limits(1)
    if "torch" in sys.modules:  # only where torch is in use: importing it costs seconds
        import torch

        _LIMITS["torch"] = torch.get_num_threads()
        torch.set_num_threads(1)


def restore_threads() -> None:
    blas = _LIMITS.pop("blas", None)
    if blas is not None:
        blas.restore_original_limits()
    threads = _LIMITS.pop("torch", None)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def resolve_workers(workers: int, jobs: int | None = None) -> int:
    """0 means one worker per CPU core; never more workers than `jobs` (when given)."""
    workers = workers or os.cpu_count() or 1
    return workers if jobs is None else min(workers, max(jobs, 1))


class OrderedPool:
    """`map(fn, jobs)` yields fn(job) in job order. `setup(*setup_args)`, if given, prepares
    each worker (and the caller's process when workers = 1) just before the one-thread limits
    are set, so that they cover torch if it imports it; `teardown` undoes it in the caller's
    process."""

    def __init__(self, workers: int, setup: Callable | None = None, setup_args: tuple = (),
                 teardown: Callable | None = None, address: str | None = None) -> None:
        self.workers = resolve_workers(workers)
        self.setup, self.setup_args, self.teardown = setup, setup_args, teardown
        self.address = address  # a Dask scheduler: run the jobs on its workers
        self.pool = None  # a concurrent.futures executor, or None: this process
        self.client = None

    def __enter__(self) -> OrderedPool:
        if self.address:
            self.client = _dask_client(self.address, self.setup, self.setup_args)
            self.pool = self.client.get_executor(pure=False)
            self.workers = max(1, sum(self.client.nthreads().values()))
        elif self.workers > 1:
            # Workers start from a fresh forkserver process, not a fork of this one: a
            # forked child inherits the parent's OpenMP thread-pool state (GNU libgomp, which
            # torch uses, is not fork-safe), and once the parent had run a parallel region,
            # e.g. loading a network's weights, the child's first one hung forever
            # (robustness of a cnn on real tracks).
            self.pool = ProcessPoolExecutor(self.workers,
                                            mp_context=multiprocessing.get_context("forkserver"),
                                            initializer=_setup_worker,
                                            initargs=(self.setup, self.setup_args))
        else:
            _setup_worker(self.setup, self.setup_args)
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if self.client is not None:
            self.client.close()  # cancels what is still queued on the cluster
            return
        if self.pool is not None:
            if exc_type is not None and not issubclass(exc_type, Exception):
                # Ctrl-C (or exit): stop now. Waiting for the running tasks, or for Python's
                # exit hook to join the workers, kept a stage alive through a second Ctrl-C.
                processes = list(getattr(self.pool, "_processes", {}).values())
                # Wait for them to die (a terminated worker exits at once) so that the
                # forkserver reaps them before it exits, else they linger as zombies; a
                # second Ctrl-C must not cut this short.
                previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
                try:
                    for process in processes:
                        process.terminate()
                    for process in processes:
                        process.join(timeout=5)
                        if process.is_alive():
                            process.kill()
                finally:
                    signal.signal(signal.SIGINT, previous)
                self.pool.shutdown(wait=False, cancel_futures=True)
                self.pool = None
                _stop_helper_processes()
                return
            self.pool.shutdown(cancel_futures=True)
            self.pool = None
            _stop_helper_processes()
            return
        if self.teardown is not None:
            self.teardown()
        restore_threads()

    def map(self, fn: Callable, jobs: Iterable, total: int | None = None,
            desc: str = "tracks", unit: str = "track", progress: bool = True) -> Iterator:
        jobs = list(jobs)
        bar = tqdm(total=total or len(jobs), desc=desc, unit=unit, disable=not progress,
                   file=sys.stderr)
        try:
            if self.pool is None:
                for job in jobs:
                    yield fn(job)
                    bar.update()
                return
            if self.client is not None:
                fn = partial(_on_one_thread, fn)
            pending: deque = deque()
            todo = iter(jobs)
            for job in todo:
                pending.append(self.pool.submit(fn, job))
                if len(pending) >= 2 * self.workers:
                    break
            while pending:
                result = pending.popleft().result()
                nxt = next(todo, None)
                if nxt is not None:
                    pending.append(self.pool.submit(fn, nxt))
                yield result
                bar.update()
        finally:
            bar.close()


def _on_one_thread(fn: Callable, job):
    """Run one job under the one-thread limits on the thread that runs it. A Dask worker runs
    jobs on threads of its own, and OpenMP's thread count is a per-thread setting, so limits
    set when the worker started need not reach them."""
    with threadpool_limits(1):
        if "torch" in sys.modules:
            import torch

            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                return fn(job)
            finally:
                torch.set_num_threads(threads)
        return fn(job)


def _dask_client(address: str, setup: Callable | None, args: tuple):
    """A client of the scheduler at `address`, its workers prepared by `setup(*args)`."""
    from distributed import Client
    from distributed.diagnostics.plugin import WorkerPlugin

    from musicgenre.core.errors import MusicGenreError

    class PrepareWorker(WorkerPlugin):
        def setup(self, worker) -> None:
            _setup_worker(setup, args)

    try:
        client = Client(address, timeout="10s")
    except OSError as exc:
        raise MusicGenreError(f"cluster.address: no Dask scheduler answers at {address} "
                              f"({' '.join(str(exc).split())[:200]})") from None
    client.register_plugin(PrepareWorker(), name="musicgenre-prepare-worker")
    return client


def _stop_helper_processes() -> None:
    """Stop multiprocessing's forkserver and resource tracker once a pool is done with them.

    Both are children of this process that exit only after it has; orphaned then, they
    stay as zombies where PID 1 reaps nothing (containers without an init). `_stop` is the
    hook CPython's own tests use; were it to go away, only those zombies would come back.
    """
    import gc
    from multiprocessing import forkserver, resource_tracker

    gc.collect()  # the pool's queues and their semaphores, before the tracker is stopped
    for helper in (forkserver._forkserver, resource_tracker._resource_tracker):
        stop = getattr(helper, "_stop", None)
        if stop is not None:
            stop()


def _setup_worker(setup: Callable | None, args: tuple) -> None:
    if multiprocessing.parent_process() is not None:  # a worker process, not workers=1
        ignore_interrupts()
    tune_allocator()
    if setup is not None:
        setup(*args)  # first: it may import torch, whose threads are then limited too
    single_thread()
