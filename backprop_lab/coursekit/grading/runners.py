"""Where grading tasks run: in this process, or in local worker processes (Dask: `cluster.py`).

A runner's ``results(jobs, stopping)`` yields ``(job, GradedSubmission or the exception raised)``
as tasks finish; once ``stopping()`` is true it starts no new task and yields the ones in progress.
``retried`` lists ``(student, why)`` for tasks run again after their worker was lost.

Local workers are forked from multiprocessing's fork server, which imports nbformat, torch and the
exercise registry once (`worker_preload`) while this process imports nbgrader: the second worker
starts grading about as early as the first, and no worker pays the imports again.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
from concurrent.futures import FIRST_COMPLETED, CancelledError, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

PRELOAD = "backprop_lab.coursekit.grading.worker_preload"
POLL_S = 0.2


class InProcess:
    """Grade one student after the other in this process."""

    def __init__(self, why: str = ""):
        from .startup import one_thread, warm_up

        warm_up()
        self.restore_threads = one_thread()
        self.label = "in this process" + (f" ({why})" if why else "")
        self.retried: list = []

    def results(self, jobs, stopping):
        from .tasks import grade_submission

        for job in jobs:
            if stopping():
                return
            try:
                yield job, grade_submission(job)
            except Exception as exc:  # a grader bug: reported for this student, the batch goes on
                yield job, exc

    def close(self) -> None:
        self.restore_threads()


def _exit(signum, frame):
    # Not SystemExit: concurrent.futures catches it while a result is being sent and sends again, into a
    # pipe nobody reads once the pool is broken (the pool then waits for this worker forever).
    from .sandbox import close_all

    close_all()
    os._exit(128 + signum)


def _worker_signals() -> None:
    # Ctrl-C is the instructor's process's business; SIGTERM ends the worker and its sandbox children.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit)


class LocalPool:
    """`workers` processes on this machine; a task whose worker died is run once more in a new pool."""

    def __init__(self, workers: int):
        from multiprocessing import forkserver

        from .startup import skip_iri_grammar

        skip_iri_grammar()
        self.workers = workers
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload([PRELOAD])
        forkserver.ensure_running()  # starts importing now, beside this process's own start-up
        self.label = f"{workers} worker processes"
        self.retried: list = []
        self.pool = None

    def results(self, jobs, stopping):
        from .tasks import grade_submission

        jobs, again = iter(jobs), []  # `again`: jobs to (re)submit before taking new ones
        while True:
            self.pool = ProcessPoolExecutor(self.workers, mp_context=self.context, initializer=_worker_signals)
            futures: dict = {}
            lost = []
            self._fill(futures, jobs, again, stopping, grade_submission)
            while futures:
                done, _ = wait(futures, timeout=POLL_S, return_when=FIRST_COMPLETED)
                for future in done:
                    job = futures.pop(future)
                    try:
                        yield job, future.result()
                    except CancelledError:
                        pass
                    except BrokenProcessPool:  # a worker died: every unfinished task of this pool fails
                        lost.append(job)
                    except Exception as exc:  # a grader bug: reported for this student, the batch goes on
                        yield job, exc
                if stopping():
                    futures = {f: j for f, j in futures.items() if not f.cancel()}
                elif not lost:
                    self._fill(futures, jobs, again, stopping, grade_submission)
            self.pool.shutdown()
            self.pool = None
            if stopping() or not (lost or again):
                return
            for job in lost:
                if any(student == job.student for student, _ in self.retried):
                    yield job, RuntimeError("its worker process died twice")
                else:
                    self.retried.append((job.student, "a worker process died; graded again in a new one"))
                    again.append(job)

    def _fill(self, futures: dict, jobs, again: list, stopping, task) -> None:
        # A few tasks per worker in flight: submissions are read as they are needed, not all at once.
        while len(futures) < 2 * self.workers and not stopping():
            job = again.pop(0) if again else next(jobs, None)
            if job is None:
                return
            try:
                futures[self.pool.submit(task, job)] = job
            except BrokenProcessPool:  # a worker has just died: this job goes to the next pool
                again.insert(0, job)
                return

    def close(self) -> None:
        """Stop at once: cancel what is queued and end the workers (their sandbox children with them)."""
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            for proc in multiprocessing.active_children():
                proc.terminate()
            self.pool = None
