"""The Dask engine of ``kiemtin classify``: the same chunks, scored on ``dask.distributed``.

The client reads the input and writes the output in order exactly as the local engine does
(rejects, checkpoints and ``--resume`` included); only :func:`score_chunk` runs on the
workers. The model directories travel to the workers as bytes once per run, so workers need
the ``kiemtin`` package but not the models or the input files.

    kiemtin classify posts/ -o scores.parquet --engine dask                       # LocalCluster
    kiemtin classify posts/ -o scores.parquet --engine dask --scheduler tcp://host:8786
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import InputError
from .inputs import Row
from .run import ScoredChunk, ScoringJob, classifier_for, in_order, score_chunk

MESSAGE_LOG = 10  # messages each Dask comm keeps for debugging


@dataclass(frozen=True)
class ModelBundle:
    """The files of the run's model directories: ``(task dir/model dir/relative path, bytes)``."""

    files: tuple[tuple[str, bytes], ...]
    digest: str

    @classmethod
    def from_dirs(cls, model_dirs: tuple[str, ...]) -> ModelBundle:
        files = []
        for d in map(Path, model_dirs):
            for f in sorted(p for p in d.rglob("*") if p.is_file()):
                files.append(
                    (f"{d.parent.name}/{d.name}/{f.relative_to(d).as_posix()}", f.read_bytes())
                )
        digest = hashlib.sha256()
        for name, data in files:
            digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
        return cls(tuple(files), digest.hexdigest()[:16])

    def unpack(self, job: ScoringJob) -> ScoringJob:
        """Write the files under a temporary directory of this worker (once); the job with
        model directories there. The last two path parts, which name the model in the
        output, stay the same."""
        root = Path(tempfile.gettempdir()) / f"kiemtin-models-{self.digest}"
        if not root.exists():
            staging = Path(tempfile.mkdtemp(prefix=root.name + "."))
            for name, data in self.files:
                target = staging / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            try:
                staging.rename(root)
            except OSError:  # another worker on this machine got there first
                shutil.rmtree(staging, ignore_errors=True)
        dirs = tuple(str(root / Path(d).parent.name / Path(d).name) for d in job.model_dirs)
        return replace(job, model_dirs=dirs)


_unpacked: dict[tuple[str, ScoringJob], ScoringJob] = {}


def score_chunk_on_worker(bundle: ModelBundle, job: ScoringJob, rows: list[Row]) -> ScoredChunk:
    key = (bundle.digest, job)
    if key not in _unpacked:
        _unpacked[key] = bundle.unpack(job)
    return score_chunk(_unpacked[key], rows)


def _warm_up(bundle: ModelBundle, job: ScoringJob) -> int:
    return score_chunk_on_worker(bundle, job, []).scored


class DaskEngine:
    """Chunks scored by the workers of a Dask cluster (a LocalCluster without an address)."""

    def __init__(self, job: ScoringJob, workers: int, scheduler: str | None = None):
        self.job = job
        self.workers = max(1, workers)
        self.scheduler = scheduler
        self.client = None
        self.cluster = None

    def start(self) -> None:
        # Dask logs every worker start and stop at INFO; the workers inherit this setting.
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")
        # Every comm keeps its last N messages for debugging (1,000 by default); our
        # messages carry whole chunks, so that log alone grew the client by ~0.5 KB per row.
        os.environ.setdefault("DASK_DISTRIBUTED__ADMIN__LOW_LEVEL_LOG_LENGTH", str(MESSAGE_LOG))
        logging.getLogger("distributed").setLevel(logging.ERROR)
        try:
            import dask
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:
            raise InputError(
                "--engine dask",
                expected="dask.distributed installed",
                found=f"ImportError: {exc}",
                fix="pip install 'kiemtin[dask]' (or use the local engine).",
            ) from exc
        classifier_for(self.job)  # a broken model directory fails here, before any cluster
        dask.config.set({"distributed.admin.low-level-log-length": MESSAGE_LOG})
        if self.scheduler:
            try:
                self.client = Client(self.scheduler, timeout="10s")
            except (OSError, TimeoutError) as exc:
                raise InputError(
                    "--scheduler",
                    expected="the address of a running Dask scheduler",
                    found=f"{self.scheduler} ({type(exc).__name__}: {exc})",
                    fix="Check the address and that the scheduler is up, or leave "
                    "--scheduler out to start a local cluster.",
                ) from exc
        else:
            self.cluster = LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            self.client = Client(self.cluster)
        workers = list(self.client.scheduler_info()["workers"])
        if not workers:
            raise InputError(
                "--scheduler",
                expected="a Dask cluster with at least one worker",
                found="no workers",
                fix="Start workers (dask worker ADDRESS) and run again.",
            )
        self.in_flight = 2 * len(workers)
        self.bundle = self.client.scatter(
            ModelBundle.from_dirs(self.job.model_dirs), broadcast=True
        )
        # Every worker unpacks and loads the models now: start-up, not scoring time.
        warm = [
            self.client.submit(_warm_up, self.bundle, self.job, workers=[w], pure=False)
            for w in workers
        ]
        self.client.gather(warm)

    def map_in_order(self, chunks):
        def submit(chunk):
            return self.client.submit(
                score_chunk_on_worker, self.bundle, self.job, chunk.rows, pure=False
            )

        yield from in_order(chunks, submit, self.in_flight)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
