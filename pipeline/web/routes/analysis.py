"""The analysts' page: what the batch runs put in the queue (per task and model), the
background jobs, and the reviewed labels to download as corpus files for ``train.py``."""

from __future__ import annotations

import os
import tempfile

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from ..i18n import _

JOBS_SHOWN = 20
DOWNLOAD_FORMATS = {"jsonl": "application/x-ndjson", "csv": "text/csv"}


def register(app: FastAPI, *, db, render, require, check_csrf, store_call) -> None:
    from ...store.labels_export import export_labels
    from ...store.queue import intake_by_model, tasks
    from ...store.rescore import recent_jobs

    @app.get("/analysis", name="analyst_page")
    def analyst_page(request: Request):
        user = require(request, "view_jobs")
        with db() as session:
            intake = intake_by_model(session)
            jobs = recent_jobs(session, limit=JOBS_SHOWN)
            known = tasks(session)
        return render(
            request,
            "analysis.html",
            user=user,
            intake=intake,
            jobs=jobs,
            tasks=known,
            formats=list(DOWNLOAD_FORMATS),
        )

    @app.get("/labels/{task}.{fmt}", name="labels_download")
    def labels_download(request: Request, task: str, fmt: str):
        require(request, "export_labels")
        if fmt not in DOWNLOAD_FORMATS:
            raise HTTPException(
                404,
                _(
                    "Labels download as %(formats)s, not %(found)s.",
                    formats=", ".join(DOWNLOAD_FORMATS),
                    found=repr(fmt),
                ),
            )
        # Written to a file first: a refusal (unknown task) is a page, not half a download.
        handle, path = tempfile.mkstemp(prefix="kiemtin-labels-", suffix=f".{fmt}")
        os.close(handle)
        try:
            store_call(export_labels, path, fmt, task=task)
        except BaseException:
            os.unlink(path)
            raise
        return FileResponse(
            path,
            media_type=DOWNLOAD_FORMATS[fmt],
            filename=f"{task}-reviewed.{fmt}",
            background=BackgroundTask(os.unlink, path),
        )
