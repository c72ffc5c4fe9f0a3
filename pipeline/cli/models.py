"""``kiemtin models``: the model registry: list, show, promote, roll back, export to ONNX."""

from __future__ import annotations

import sys
import time

from .options import Parents, add_action_group
from .store_access import cli_actor, open_store

MODEL_HELP = "model directory, or task/name-version under --models-root (hostile/linear-2)"


def add_parser(subparsers, parents: Parents) -> None:
    with_root = parents.with_models_root
    m_sub = add_action_group(
        subparsers, "models", parents, help="the model registry: list, show, promote, roll back"
    )
    ml = m_sub.add_parser("list", parents=with_root, help="every model directory, per task")
    ml.add_argument("--task", help="only this task's models")
    ms = m_sub.add_parser(
        "show", parents=with_root, help="one model: config, training data, metrics, CURRENT"
    )
    ms.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    mp = m_sub.add_parser(
        "promote",
        parents=with_root,
        help="make a model its task's CURRENT if it is not worse than the current one",
    )
    mp.add_argument("model", metavar="MODEL", help=MODEL_HELP)
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
        "rollback", parents=with_root, help="CURRENT back to the model before the last promotion"
    )
    mr.add_argument("task", metavar="TASK", help="hostile, false, ...")
    mr.add_argument("--reason", help="why (recorded in HISTORY.jsonl and the audit trail)")
    mx = m_sub.add_parser(
        "export-onnx",
        parents=with_root,
        help="write MODEL/encoder/model.int8.onnx of a transformer model for CPU scoring",
    )
    mx.add_argument("model", metavar="MODEL", help=MODEL_HELP)


def handle(args) -> int:
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
    _, _, sessions = open_store()
    with sessions() as session:
        if args.models_command == "promote":
            change = registry.promote(
                args.models_root,
                args.model,
                actor=cli_actor(),
                force=args.force,
                reason=args.reason,
                tolerance=args.tolerance,
                audit_session=session,
            )
        else:
            change = registry.rollback(
                args.models_root,
                args.task,
                actor=cli_actor(),
                reason=args.reason,
                audit_session=session,
            )
    if change.comparison is not None:
        print(change.comparison.table(gate=change.action != "rollback"))
    for note in change.notes:
        print(f"kiemtin: note: {note}", file=sys.stderr)
    print(change.message)
    if change.changed:
        from .queue import rescore_in_background

        rescore_in_background(change.task, change.model_dir)
    return 0
