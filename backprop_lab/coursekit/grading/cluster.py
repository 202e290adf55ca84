"""Grading on a Dask cluster: ``backprop-lab autograde ASSIGNMENT --scheduler tcp://host:8786``.

Workers need the package installed (``pip install "backprop_lab[scale]"``) and nothing else: a task
carries its submission as bytes and the gradebook's cells and the hidden-input seeds as data, and
returns plain data (`tasks.grade_submission`). The course folder, the gradebook and the grader's
secret stay on the instructor's machine, where each result is recorded as it arrives.

When a worker is lost mid-task, the scheduler runs the task again on another worker (up to
``distributed.scheduler.allowed-failures`` times); the instructor's process records each student
once, when the result arrives. Every task logs its start as a Dask event (topic `TOPIC`), so the
batch can say which students were graded again, and why.
"""
from __future__ import annotations

import uuid
from collections import defaultdict

from ..release import CourseError
from .tasks import GradingJob, grade_submission

TOPIC = "backprop-lab-grading"
POLL_S = 0.2


def grade_on_worker(job: GradingJob, batch: str):
    """The Dask task: say where it starts (an event), then grade."""
    from distributed import get_worker

    from .startup import grading_process

    worker = get_worker()
    worker.log_event(TOPIC, {"batch": batch, "student": job.student, "worker": worker.address})
    grading_process()  # imports once per worker process; one BLAS and torch thread (tiny arrays)
    return grade_submission(job)


class DaskCluster:
    """Grading tasks on the workers of the Dask scheduler at `address`."""

    def __init__(self, address: str):
        try:
            from distributed import Client
        except ImportError:
            raise CourseError('--scheduler needs Dask: pip install "backprop_lab[scale]"') from None
        try:
            self.client = Client(address, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise CourseError(f"could not reach the Dask scheduler at {address} ({type(exc).__name__}: {exc}); "
                              f"start one with `dask scheduler` and workers with `dask worker {address}`, "
                              "or check the address") from None
        workers = len(self.client.scheduler_info().get("workers", {}))
        self.label = f"Dask scheduler {address}, {workers} workers"
        self.batch = uuid.uuid4().hex[:12]
        self.retried: list = []
        self.futures: dict = {}

    def results(self, jobs, stopping):
        from distributed import wait

        jobs, pending, stopped = iter(jobs), set(), False
        self._fill(pending, jobs)
        while pending:
            try:
                wait(list(pending), timeout=POLL_S, return_when="FIRST_COMPLETED")
            except TimeoutError:
                pass
            for future in [f for f in pending if f.done()]:
                pending.discard(future)
                job = self.futures.pop(future)
                if future.cancelled():
                    continue
                try:
                    yield job, future.result()
                except Exception as exc:  # KilledWorker (the task crashed too many workers) or a grader bug
                    yield job, exc
                future.release()
            if stopping():
                if not stopped:
                    running = {key for keys in self.client.processing().values() for key in keys}
                    queued = [f for f in pending if f.key not in running]
                    self.client.cancel(queued)
                    pending.difference_update(queued)
                    for future in queued:
                        self.futures.pop(future)
                    stopped = True
            else:
                self._fill(pending, jobs)
        self._note_retries()

    def _fill(self, pending: set, jobs) -> None:
        # Two tasks per worker thread in flight: submissions are read as they are needed, not all at once.
        threads = sum(w.get("nthreads", 1) for w in self.client.scheduler_info().get("workers", {}).values())
        while len(pending) < max(4, 2 * threads):
            job = next(jobs, None)
            if job is None:
                return
            future = self.client.submit(grade_on_worker, job, self.batch, pure=False,
                                        key=f"grade-{job.assignment}-{job.student}-{self.batch}")
            self.futures[future] = job
            pending.add(future)

    def _note_retries(self) -> None:
        starts = defaultdict(list)
        for _, msg in self.client.get_events(TOPIC):
            if isinstance(msg, dict) and msg.get("batch") == self.batch:
                starts[msg["student"]].append(msg["worker"])
        for student, workers in sorted(starts.items()):
            if len(workers) > 1:
                self.retried.append((student, f"its worker {workers[-2]} was lost; graded again on {workers[-1]}"))

    def close(self) -> None:
        if self.futures:  # stopped at once: what is still queued or running is abandoned
            self.client.cancel(list(self.futures))
        self.client.close()
