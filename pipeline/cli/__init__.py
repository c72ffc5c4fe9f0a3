"""The ``kiemtin`` command: ``kiemtin train`` and ``kiemtin classify``.

Only this module turns errors into exit codes: 2 for a wrong option, input or model
directory (with an expected / found / fix message), 1 for anything unexpected.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
import time
from contextlib import nullcontext
from pathlib import Path

from tqdm import tqdm

from ..errors import KiemtinError
from ..model import DEFAULT_MODELS_ROOT

EXIT_BAD_INPUT = 2
PROCESS_STARTED = time.perf_counter()  # start-up figures count the heavy imports after this
_started_once: list[bool] = []  # later runs in the same process start when they are called


def _count(minimum: int):
    """An argparse type: a whole number >= ``minimum``, with a message saying so."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or number < minimum:
            raise argparse.ArgumentTypeError(
                f"expected a whole number >= {minimum}, found {value!r}"
            )
        return number

    return parse


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not number > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, found {value!r}")
    return number


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kiemtin",
        description="Find false and hostile information in Vietnamese social-media posts.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser(
        "classify",
        parents=[common],
        help="score posts from a CSV, JSONL or Parquet file",
        description="Score posts; one output row per scored input row, in "
        "input order; rejected rows go to OUTPUT.rejects.jsonl with a reason.",
    )
    c.add_argument(
        "input",
        nargs="+",
        help="CSV, JSONL or Parquet files (by extension) or directories of them, read as one "
        "input in order; - reads JSONL on stdin",
    )
    c.add_argument(
        "-o",
        "--output",
        help="output file: .jsonl (default, stdout when omitted), "
        ".csv or .parquet (flattened columns)",
    )
    c.add_argument("--task", default="all", help="hostile, false or all (default: all)")
    c.add_argument(
        "--model",
        action="append",
        type=Path,
        metavar="DIR",
        help="model directory to use (repeat for several tasks); "
        "default: each task's CURRENT model",
    )
    c.add_argument(
        "--models-root",
        type=Path,
        default=DEFAULT_MODELS_ROOT,
        help="where models/<task>/CURRENT live (default: the bundled models)",
    )
    c.add_argument("--text-column", default="text", help="column or field with the post text")
    c.add_argument(
        "--id-column",
        help="column or field with the post id (default: 'id' "
        "when present, else the line or row number)",
    )
    c.add_argument("--rejects", help="rejects file (default: OUTPUT with .rejects.jsonl)")
    c.add_argument(
        "--max-chars", type=_count(1), default=100_000, help="reject longer texts (default: 100000)"
    )
    c.add_argument("--top-words", type=_count(0), default=5, help="words to explain per task")
    c.add_argument(
        "--batch-size",
        type=_count(1),
        default=2000,
        help="rows per chunk a worker scores (and per checkpoint; default 2000)",
    )
    c.add_argument(
        "--workers",
        type=_count(0),
        default=0,
        help="worker processes that score (0 = one per core, the default); with "
        "--engine dask, the workers of the local cluster",
    )
    c.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run of the same command from its last checkpoint",
    )
    c.add_argument(
        "--engine",
        choices=["local", "dask"],
        default="local",
        help="local worker processes (default) or dask.distributed (pip install 'kiemtin[dask]')",
    )
    c.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="Dask scheduler address (tcp://host:8786); default: start a local cluster",
    )

    t = sub.add_parser(
        "train",
        parents=[common],
        help="train a model from a corpus and write its directory",
        description="Fit on the corpus's train (+dev) split, evaluate on its "
        "fixed test split, write models/<task>/<name>-<version>/.",
    )
    t.add_argument("--task", required=True, help="hostile, false, or a task .json file")
    t.add_argument(
        "--corpus",
        required=True,
        type=Path,
        help="corpus directory (ViHSD, ReINTEL, or train/dev/test files) or file",
    )
    t.add_argument(
        "--models-root",
        type=Path,
        default=DEFAULT_MODELS_ROOT,
        help="where to write models/<task>/... (default: the project's models/)",
    )
    t.add_argument("--name", help="model name (default: the family, linear or transformer)")
    t.add_argument("--version", help="version (default: the next free number)")
    promote = t.add_mutually_exclusive_group()
    promote.add_argument(
        "--promote", action="store_true", default=None, help="make it the task's CURRENT model"
    )
    promote.add_argument(
        "--no-promote",
        dest="promote",
        action="store_false",
        help="never change CURRENT (default: promote only the first model)",
    )
    t.add_argument(
        "--reviews",
        help="merge reviewed labels: a `kiemtin labels export` file or a database URL",
    )
    t.add_argument("--text-column", help="text column of a generic corpus")
    t.add_argument("--label-column", help="label column of a generic corpus")
    t.add_argument("--id-column", help="id column of a generic corpus")
    t.add_argument(
        "--C",
        type=_positive_float,
        dest="C",
        help="linear family: inverse regularisation strength (default: 4.0)",
    )
    t.add_argument(
        "--seed",
        type=_count(0),
        help="random seed (linear: its folds; transformer: everything; default: 0)",
    )
    t.add_argument(
        "--family",
        choices=("linear", "transformer"),
        default="linear",
        help="model family (default: linear); transformer fine-tunes --base-model",
    )
    tr = t.add_argument_group("transformer family (needs the `transformer` extra)")
    tr.add_argument(
        "--base-model",
        metavar="PATH_OR_HUB_ID",
        help="encoder to fine-tune: a local directory, or a hub id such as "
        "vinai/phobert-base-v2 (downloads need a network)",
    )
    fed = tr.add_mutually_exclusive_group()
    fed.add_argument(
        "--segmented-input",
        dest="segmented_input",
        action="store_true",
        default=None,
        help="feed word-segmented text, syllables joined by _ (PhoBERT; the default)",
    )
    fed.add_argument(
        "--raw-input",
        dest="segmented_input",
        action="store_false",
        help="feed the normalised text unsegmented (XLM-R, ViSoBERT)",
    )
    tr.add_argument("--epochs", type=_positive_float, help="training epochs (default: 4)")
    tr.add_argument("--batch-size", type=_count(1), help="training batch size (default: 16)")
    tr.add_argument(
        "--learning-rate", type=_positive_float, help="peak learning rate (default: 3e-05)"
    )
    tr.add_argument("--max-length", type=_count(8), help="tokens per post (default: 128)")
    tr.add_argument(
        "--max-steps", type=_count(1), help="stop after N optimiser steps (overrides --epochs)"
    )
    tr.add_argument(
        "--eval-steps",
        type=_count(1),
        help="score the dev set (early stopping, checkpoints) every N steps (default: each epoch)",
    )
    tr.add_argument(
        "--base-model-licence",
        metavar="TERMS",
        help="the base model's licence terms, recorded in config.json and the card "
        "(default: known for PhoBERT, ViSoBERT, XLM-R; else unknown)",
    )
    tr.add_argument(
        "--work-dir",
        type=Path,
        help="where checkpoints go (default: out/train/<task>-<name>)",
    )
    tr.add_argument(
        "--resume",
        action="store_true",
        help="continue from the last checkpoint in --work-dir",
    )
    t.add_argument(
        "--workers",
        type=_count(0),
        default=0,
        help="processes for word segmentation (default 0: one per core)",
    )

    ev = sub.add_parser(
        "evaluate",
        parents=[common],
        help="evaluate a model on a corpus split and write an HTML report",
        description="Score a corpus split with a model; write metrics.json, report.html and "
        "PNG plots (overall and per slice, worst errors, side by side with another model).",
    )
    ev.add_argument(
        "model",
        metavar="MODEL",
        help="model directory, or task/name-version under --models-root (hostile/linear-1)",
    )
    ev.add_argument(
        "--corpus",
        required=True,
        type=Path,
        help="corpus directory (ViHSD, ReINTEL, or train/dev/test files) or file",
    )
    ev.add_argument(
        "-o",
        "--output",
        type=Path,
        help="report directory (default: out/evaluate/<task>-<model>-<corpus>-<split>)",
    )
    ev.add_argument("--split", default="test", help="split to evaluate on (default: test)")
    ev.add_argument(
        "--against",
        default="current",
        help="compare with: current (the task's CURRENT model when it is another one; "
        "the default), none, or a model directory or task/name-version",
    )
    ev.add_argument(
        "--models-root",
        type=Path,
        default=DEFAULT_MODELS_ROOT,
        help="where models/<task>/CURRENT live (default: the bundled models)",
    )
    ev.add_argument(
        "--workers",
        type=_count(0),
        default=1,
        help="processes for word segmentation (0 = one per core)",
    )
    c.add_argument(
        "--to-queue",
        action="store_true",
        help="also put the scored posts into the review queue (KIEMTIN_DATABASE_URL)",
    )

    db = sub.add_parser("db", parents=[common], help="the review database")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser(
        "upgrade", parents=[common], help="create or migrate the schema to the latest"
    )

    q = sub.add_parser("queue", parents=[common], help="the review queue")
    q_sub = q.add_subparsers(dest="queue_command", required=True, metavar="ACTION")
    qa = q_sub.add_parser(
        "add", parents=[common], help="add scored posts (JSONL from classify) to the queue"
    )
    qa.add_argument("scored", help="JSONL written by kiemtin classify")
    qa.add_argument(
        "--reviews-needed", type=_count(1), help="independent reviews per item (default: 1)"
    )
    qr = q_sub.add_parser(
        "rescore",
        parents=[common],
        help="re-score a task's open items with its current model (a job with progress)",
    )
    which = qr.add_mutually_exclusive_group(required=True)
    which.add_argument("--task", help="the task whose open items to re-score")
    which.add_argument("--job", type=_count(1), help="run (or resume) this queued job")
    qr.add_argument(
        "--models-root",
        type=Path,
        default=DEFAULT_MODELS_ROOT,
        help="where models/<task>/CURRENT is (default: the project's models/)",
    )
    qr.add_argument("--batch-size", type=_count(1), default=500, help="items per batch")
    qr.add_argument("--workers", type=_count(0), default=1, help="processes for word segmentation")
    q_sub.add_parser("jobs", parents=[common], help="recent background jobs and their progress")

    u = sub.add_parser("users", parents=[common], help="accounts of the team application")
    u_sub = u.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    ua = u_sub.add_parser("add", parents=[common], help="add an account")
    ua.add_argument("name")
    ua.add_argument(
        "--role", required=True, help="admin, trainer, reviewer, communicator or analyst"
    )
    ua.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (default: prompt twice)",
    )
    ua.add_argument(
        "--approver",
        action="store_true",
        help="a communicator who may approve other people's rebuttals",
    )
    uap = u_sub.add_parser(
        "approver",
        parents=[common],
        help="give a communicator the right to approve rebuttals (or take it with --revoke)",
    )
    uap.add_argument("name")
    uap.add_argument("--revoke", action="store_true", help="take the right away")

    r = sub.add_parser("rebuttals", parents=[common], help="rebuttals of confirmed narratives")
    r_sub = r.add_subparsers(dest="rebuttals_command", required=True, metavar="ACTION")
    re_ = r_sub.add_parser(
        "export",
        parents=[common],
        help="write a narrative's rebuttal pack (Markdown and HTML) into a directory",
    )
    re_.add_argument("group_id", type=_count(1), metavar="GROUP_ID", help="the narrative group")
    re_.add_argument("-o", "--output", required=True, help="directory (created if missing)")

    lb = sub.add_parser(
        "labels", parents=[common], help="reviewed labels out as corpus files; Label Studio in"
    )
    lb_sub = lb.add_subparsers(dest="labels_command", required=True, metavar="ACTION")
    le = lb_sub.add_parser(
        "export", parents=[common], help="write every reviewed label as a corpus file"
    )
    le.add_argument("-o", "--output", default="-", help="file (default: stdout)")
    le.add_argument(
        "--format",
        default="jsonl",
        choices=["jsonl", "csv", "label-studio"],
        help="jsonl (default) or csv for train.py, label-studio for a Label Studio JSON array",
    )
    le.add_argument("--task", help="only this task's items (default: every task)")
    li = lb_sub.add_parser("import", parents=[common], help="import a Label Studio JSON export")
    li.add_argument("file", help="Label Studio JSON export (a JSON array of tasks)")
    li.add_argument(
        "--format", default="label-studio", choices=["label-studio"], help="label-studio"
    )
    li.add_argument("--task", help="task of the tasks whose data has no 'task' field")
    li.add_argument(
        "--models-root",
        type=Path,
        default=DEFAULT_MODELS_ROOT,
        help="current models that score texts without kiemtin scores (default: bundled)",
    )

    a = sub.add_parser("audit", parents=[common], help="the append-only audit trail")
    a_sub = a.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    ae = a_sub.add_parser("export", parents=[common], help="write every audit row as JSONL")
    ae.add_argument("-o", "--output", default="-", help="file (default: stdout)")

    m = sub.add_parser(
        "models", parents=[common], help="the model registry: list, show, promote, roll back"
    )
    m_sub = m.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    model_help = "model directory, or task/name-version under --models-root (hostile/linear-2)"
    root_help = "where models/<task>/CURRENT live (default: the project's models/)"
    ml = m_sub.add_parser("list", parents=[common], help="every model directory, per task")
    ml.add_argument("--task", help="only this task's models")
    ms = m_sub.add_parser(
        "show", parents=[common], help="one model: config, training data, metrics, CURRENT"
    )
    ms.add_argument("model", metavar="MODEL", help=model_help)
    mp = m_sub.add_parser(
        "promote",
        parents=[common],
        help="make a model its task's CURRENT if it is not worse than the current one",
    )
    mp.add_argument("model", metavar="MODEL", help=model_help)
    mp.add_argument(
        "--force", action="store_true", help="promote even if the gate refuses (needs --reason)"
    )
    mp.add_argument("--reason", help="why (recorded in HISTORY.jsonl and the audit trail)")
    mp.add_argument(
        "--tolerance",
        type=float,
        default=0.005,
        help="how much lower macro-F1 or ROC-AUC may be than the current model's (default: 0.005)",
    )
    mr = m_sub.add_parser(
        "rollback", parents=[common], help="CURRENT back to the model before the last promotion"
    )
    mr.add_argument("task", metavar="TASK", help="hostile, false, ...")
    mr.add_argument("--reason", help="why (recorded in HISTORY.jsonl and the audit trail)")
    mx = m_sub.add_parser(
        "export-onnx",
        parents=[common],
        help="write MODEL/encoder/model.int8.onnx of a transformer model for CPU scoring",
    )
    mx.add_argument("model", metavar="MODEL", help=model_help)
    mx.add_argument("--models-root", type=Path, default=DEFAULT_MODELS_ROOT, help=root_help)
    for models_parser in (ml, ms, mp, mr):
        models_parser.add_argument(
            "--models-root", type=Path, default=DEFAULT_MODELS_ROOT, help=root_help
        )

    sv = sub.add_parser("serve", parents=[common], help="run the reviewer web app")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    sv.add_argument("--port", type=_count(1), default=8000, help="port (default: 8000)")
    return parser


def _store():
    """The configured store, migrated to the latest schema, and its settings."""
    from ..store.db import Settings, make_engine, session_factory, upgrade

    settings = Settings.from_env()
    if settings.database_url.startswith("sqlite:///"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    return settings, engine, session_factory(engine)


def _db(args) -> int:
    settings, _, _ = _store()
    print(f"database at {settings.database_url} is at the latest schema", file=sys.stderr)
    return 0


def _queue_add_file(path, reviews_needed: int | None) -> None:
    from ..store.intake import add_scored_file

    settings, engine, _ = _store()
    report = add_scored_file(
        engine, path, actor="cli", reviews_needed=reviews_needed or settings.reviews_needed
    )
    print(f"kiemtin: queue: {report.summary()}", file=sys.stderr)
    for rejected in report.rejected[:20]:
        print(f"  line {rejected.line}: {rejected.reason}", file=sys.stderr)


def _queue(args) -> int:
    if args.queue_command == "rescore":
        return _rescore(args)
    if args.queue_command == "jobs":
        return _jobs()
    _queue_add_file(args.scored, args.reviews_needed)
    return 0


def _rescore(args) -> int:
    from tqdm import tqdm

    from ..model.directory import current_model_dir
    from ..store.rescore import get_job, run_rescore, start_rescore

    _, _, sessions = _store()
    with sessions() as session:
        if args.job is None:
            model_dir = current_model_dir(args.models_root, args.task)
            job_id = start_rescore(session, args.task, model_dir, actor=_actor()).id
        else:
            job_id = args.job
        job = get_job(session, job_id)
    with tqdm(
        total=job.total, initial=job.done, unit="item", desc=f"job {job_id}", disable=None
    ) as bar:
        job = run_rescore(
            sessions, job_id, batch_size=args.batch_size, workers=args.workers, progress=bar.update
        )
    print(
        f"kiemtin: job {job.id}: re-scored {job.done:,} open {job.task} items with "
        f"{job.model_version}",
        file=sys.stderr,
    )
    return 0


def _rescore_in_background(task: str, model_dir: Path) -> None:
    """Start re-scoring ``task``'s open items with ``model_dir`` in a process of its own."""
    import subprocess

    from ..store.rescore import start_rescore

    settings, _, sessions = _store()
    with sessions() as session:
        job = start_rescore(session, task, model_dir, actor=_actor())
    log_dir = settings.data_dir / "jobs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"job-{job.id}.log"
    with open(log, "ab") as out:
        subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "queue", "rescore", "--job", str(job.id)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives this command
        )
    print(
        f"kiemtin: re-scoring {job.total:,} open {task} items with {job.model_version} in "
        f"the background: job {job.id} (progress: kiemtin queue jobs; log: {log})",
        file=sys.stderr,
    )


def _jobs() -> int:
    from ..store.rescore import recent_jobs

    _, _, sessions = _store()
    with sessions() as session:
        for job in recent_jobs(session):
            error = f" ({job.error})" if job.error else ""
            print(
                f"{job.id}\t{job.kind}\t{job.task}\t{job.model_version}\t{job.status}\t"
                f"{job.done}/{job.total}{error}"
            )
    return 0


def _actor() -> str:
    """Who runs a CLI write, for the audit trail."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _users(args) -> int:
    import getpass

    from ..store.users import add_user, set_approver

    if args.users_command == "approver":
        _, _, sessions = _store()
        with sessions() as session:
            user = set_approver(session, args.name, not args.revoke, actor="cli")
        state = "may" if user.approves_rebuttals else "may no longer"
        print(f"{user.name} ({user.role}) {state} approve rebuttals", file=sys.stderr)
        return 0
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise KiemtinError(
                "password",
                expected="the same password twice",
                found="two different ones",
                fix="Run the command again.",
            )
    _, _, sessions = _store()
    with sessions() as session:
        user = add_user(
            session,
            args.name,
            args.role,
            password,
            actor="cli",
            approves_rebuttals=args.approver,
        )
    right = ", approves rebuttals" if user.approves_rebuttals else ""
    print(f"added {user.name} ({user.role}{right})", file=sys.stderr)
    return 0


def _audit(args) -> int:
    from ..store.audit import export

    _, _, sessions = _store()
    with sessions() as session:
        count = export(session, sys.stdout if args.output == "-" else args.output)
    print(f"kiemtin: wrote {count:,} audit rows", file=sys.stderr)
    return 0


def _models(args) -> int:
    from ..model import registry

    if args.models_command == "list":
        print(registry.list_models(args.models_root, args.task).table())
        return 0
    if args.models_command == "show":
        print(registry.show_model(args.models_root, args.model).text())
        return 0
    if args.models_command == "export-onnx":
        from ..model.onnx_runtime import export_model_onnx

        started = time.perf_counter()
        path = export_model_onnx(registry.resolve_model_dir(args.models_root, args.model))
        size = path.stat().st_size / 1e6
        print(f"{path} ({size:.1f} MB, int8)")
        print(f"kiemtin: exported in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        return 0
    _, _, sessions = _store()
    with sessions() as session:
        if args.models_command == "promote":
            change = registry.promote(
                args.models_root,
                args.model,
                actor=_actor(),
                force=args.force,
                reason=args.reason,
                tolerance=args.tolerance,
                audit_session=session,
            )
        else:
            change = registry.rollback(
                args.models_root,
                args.task,
                actor=_actor(),
                reason=args.reason,
                audit_session=session,
            )
    if change.comparison is not None:
        print(change.comparison.table(gate=change.action != "rollback"))
    for note in change.notes:
        print(f"kiemtin: note: {note}", file=sys.stderr)
    print(change.message)
    if change.changed:
        _after_current_changed(change.task, change.model_dir)
    return 0


def _after_current_changed(task: str, model_dir: Path) -> None:
    """The queue follows the current model: re-score its open items in the background."""
    _rescore_in_background(task, model_dir)


def _rebuttals(args) -> int:
    from ..store.rebuttals import group_pack
    from ..web.pack import write_pack

    _, _, sessions = _store()
    with sessions() as session:
        pack = group_pack(session, args.group_id)
    for path in write_pack(pack, args.output):
        print(f"kiemtin: wrote {path}", file=sys.stderr)
    return 0


def _labels(args) -> int:
    from ..store import export_labels, import_label_studio

    settings, engine, sessions = _store()
    if args.labels_command == "export":
        with sessions() as session:
            out = sys.stdout if args.output == "-" else args.output
            count = export_labels(session, out, args.format, task=args.task)
        print(f"kiemtin: wrote {count:,} reviewed labels ({args.format})", file=sys.stderr)
        return 0
    report = import_label_studio(
        engine,
        args.file,
        actor="cli",
        task=args.task,
        models_root=args.models_root,
        reviews_needed=settings.reviews_needed,
    )
    print(f"kiemtin: labels import: {report.summary()}", file=sys.stderr)
    for rejected in report.rejected[:20]:
        print(f"  task {rejected.position}: {rejected.reason}", file=sys.stderr)
    return 0


def _serve(args) -> int:
    import uvicorn

    from ..web.app import WebSettings, create_app

    _store()  # migrate before serving
    uvicorn.run(create_app(WebSettings.from_env()), host=args.host, port=args.port)
    return 0


def _classify(args) -> int:
    from ..batch.outputs import output_format, rejects_path
    from ..batch.run import ClassifyRun, LocalEngine, classifier_for, classify_files
    from ..model.classifier import Classifier
    from ..model.directory import current_model_dir
    from ..tasks import known_tasks

    # Refuse a bad output name before any work.
    fmt = output_format(args.output)
    if args.to_queue and (fmt != "jsonl" or args.output in (None, "-")):
        raise KiemtinError(
            "--to-queue",
            expected="-o OUTPUT.jsonl (the queue reads the JSONL records)",
            found=str(args.output or "stdout"),
            fix="Write the scores to a .jsonl file with -o.",
        )
    if args.scheduler and args.engine != "dask":
        raise KiemtinError(
            "--scheduler",
            expected="--engine dask with it",
            found=f"--engine {args.engine}",
            fix="Add --engine dask, or leave --scheduler out.",
        )
    if args.model:
        model_dirs = list(args.model)
    else:
        tasks = known_tasks() if args.task == "all" else [args.task]
        Classifier.check_tasks(tasks)
        model_dirs = [current_model_dir(args.models_root, t) for t in tasks]
    run = ClassifyRun(
        inputs=args.input,
        output=args.output,
        rejects_path=Path(args.rejects)
        if args.rejects
        else rejects_path(args.input[0], args.output),
        model_dirs=model_dirs,
        text_column=args.text_column,
        id_column=args.id_column,
        max_chars=args.max_chars,
        top_words=args.top_words,
        chunk_rows=args.batch_size,
    )
    if args.model:
        tasks = classifier_for(run.job()).tasks  # loads the models once, for every engine
        if args.task != "all" and args.task not in tasks:
            raise KiemtinError(
                "--task",
                expected=f"a task of the given models {tasks}",
                found=repr(args.task),
                fix="Drop --task or pass matching --model.",
            )
    workers = args.workers or (os.cpu_count() or 1)
    if args.engine == "dask":
        from ..batch.dask_engine import DaskEngine

        engine = DaskEngine(run.job(), workers=workers, scheduler=args.scheduler)
    else:
        engine = LocalEngine(run.job(), workers)
    progress = tqdm(desc="scoring", unit=" posts", file=sys.stderr, disable=None)
    try:
        started = None if _started_once else PROCESS_STARTED
        _started_once.append(True)
        summary = classify_files(
            run, engine, resume=args.resume, progress=progress, started=started
        )
    except KiemtinError:
        raise
    except BaseException:
        from ..batch.checkpoint import Checkpoint

        if args.output not in (None, "-") and Checkpoint.path_for(args.output).exists():
            print(
                "kiemtin: the run stopped; the same command with --resume continues it "
                "from the last checkpoint",
                file=sys.stderr,
            )
        raise
    finally:
        progress.close()
    for note in summary.notes:
        print(f"kiemtin: {note}", file=sys.stderr)
    if args.to_queue:
        _queue_add_file(args.output, None)
    where = f" (see {summary.rejects_path})" if summary.rejected else ""
    print(
        f"kiemtin: scored {summary.scored:,} rows, rejected {summary.rejected:,}{where}; "
        f"start-up {summary.startup_seconds:.1f} s, then {summary.posts_per_second:,.0f} "
        f"posts/s over {summary.scoring_seconds:.1f} s ({args.engine} engine, "
        f"{workers} worker{'s' * (workers != 1)})",
        file=sys.stderr,
    )
    return 0


def _reproduce_command(args) -> str:
    """The train command with only the options that shape the model (not where it goes or
    how many processes build it), so a rebuild elsewhere writes the same bytes."""
    from ..training.merge_reviews import describe_source

    words = ["python", "train.py", "--task", args.task, "--corpus", str(args.corpus)]
    for option, value, default in (
        ("--family", args.family, "linear"),
        ("--name", args.name, args.family),
        ("--version", args.version, None),
        ("--reviews", args.reviews and describe_source(args.reviews), None),
        ("--text-column", args.text_column, None),
        ("--label-column", args.label_column, None),
        ("--id-column", args.id_column, None),
        ("--C", args.C, 4.0),
        ("--seed", args.seed, None),
        ("--base-model", args.base_model, None),
        ("--epochs", args.epochs, None),
        ("--batch-size", args.batch_size, None),
        ("--learning-rate", args.learning_rate, None),
        ("--max-length", args.max_length, None),
        ("--max-steps", args.max_steps, None),
        ("--eval-steps", args.eval_steps, None),
        ("--base-model-licence", args.base_model_licence, None),
    ):
        if value is not None and value != default:
            words += [option, str(value)]
    if args.segmented_input is False:
        words.append("--raw-input")
    return shlex.join(words)


_TRANSFORMER_OPTIONS = {
    "base_model": "--base-model",
    "segmented_input": "--segmented-input/--raw-input",
    "epochs": "--epochs",
    "batch_size": "--batch-size",
    "learning_rate": "--learning-rate",
    "max_length": "--max-length",
    "max_steps": "--max-steps",
    "eval_steps": "--eval-steps",
    "base_model_licence": "--base-model-licence",
    "work_dir": "--work-dir",
}


def _family_hyperparameters(args) -> tuple[dict, dict]:
    """The scorer's hyper-parameters and the transformer's fit options, from the options given."""
    from ..errors import InputError

    given = {k: getattr(args, k) for k in _TRANSFORMER_OPTIONS if getattr(args, k) is not None}
    if args.family == "linear":
        stray = [_TRANSFORMER_OPTIONS[k] for k in given] + (["--resume"] if args.resume else [])
        if stray:
            raise InputError(
                "train options",
                expected="transformer options only with --family transformer",
                found=f"{', '.join(stray)} with the linear family",
                fix="Add --family transformer, or leave those options out.",
            )
        hyperparameters = {"C": 4.0 if args.C is None else args.C}
        if args.seed is not None:
            hyperparameters["random_state"] = args.seed
        return hyperparameters, {}
    if args.C is not None:
        raise InputError(
            "--C",
            expected="--C only with the linear family",
            found="--C with --family transformer",
            fix="Leave --C out; the transformer family takes --learning-rate, --epochs, ...",
        )
    if "base_model" not in given:
        raise InputError(
            "--family transformer",
            expected="--base-model: a local encoder directory or a hub id",
            found="no --base-model",
            fix="Add e.g. --base-model vinai/phobert-base-v2 (segmented input) or "
            "--base-model FacebookAI/xlm-roberta-base --raw-input.",
        )
    options = {"resume": args.resume}
    if "work_dir" in given:
        options["work_dir"] = given.pop("work_dir")
    if args.seed is not None:
        given["seed"] = args.seed
    return given, options


def _train(args) -> int:
    from ..training.train import train_model

    corpus_options = {
        k: v
        for k, v in {
            "text_column": args.text_column,
            "label_column": args.label_column,
            "id_column": args.id_column,
        }.items()
        if v
    }
    hyperparameters, family_options = _family_hyperparameters(args)
    # --promote goes through the registry as `models promote` does: gate, history, audit row.
    with _store()[2]() if args.promote else nullcontext() as session:
        result = train_model(
            args.task,
            args.corpus,
            models_root=args.models_root,
            name=args.name,
            version=args.version,
            promote=args.promote,
            workers=args.workers,
            corpus_options=corpus_options,
            hyperparameters=hyperparameters,
            command=_reproduce_command(args),
            reviews=args.reviews,
            family=args.family,
            family_options=family_options,
            actor=_actor(),
            audit_session=session,
        )
    print(result.corpus_summary)
    for name, m in result.metrics["test_sets"].items():
        print(
            f"{name}: n={m['n']} macro-F1={m['macro_f1']} ROC-AUC(risk)={m['roc_auc_risk']} "
            f"ECE={m['ece']}"
        )
    state = "now CURRENT" if result.became_current else "CURRENT unchanged"
    print(f"wrote {result.model_dir} ({state})")
    return 0


def _evaluate(args) -> int:
    from ..model.directory import model_version
    from ..model.registry import resolve_model_dir
    from ..training.report import evaluate_model, headline

    model_dir = resolve_model_dir(args.models_root, args.model)
    out = args.output
    if out is None:
        model = model_version(model_dir).replace("/", "-")
        out = Path("out") / "evaluate" / f"{model}-{args.corpus.name}-{args.split}"
    started = time.perf_counter()
    report = evaluate_model(
        model_dir,
        args.corpus,
        out,
        split=args.split,
        against=None if args.against.lower() == "none" else args.against,
        models_root=args.models_root,
        workers=args.workers,
        progress=lambda message: print(f"kiemtin: {message}", file=sys.stderr),
    )
    seconds = time.perf_counter() - started
    print(headline(report.metrics))
    print(f"report: {report.html_path}")
    print(f"kiemtin: evaluated in {seconds:.1f} s", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="kiemtin: %(message)s",
        stream=sys.stderr,
    )
    try:
        commands = {
            "classify": _classify,
            "train": _train,
            "evaluate": _evaluate,
            "db": _db,
            "queue": _queue,
            "users": _users,
            "rebuttals": _rebuttals,
            "audit": _audit,
            "models": _models,
            "labels": _labels,
            "serve": _serve,
        }
        return commands[args.command](args)
    except KiemtinError as exc:
        print(f"kiemtin: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("kiemtin: interrupted", file=sys.stderr)
        return 130

