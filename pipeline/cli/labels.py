"""``kiemtin labels``: reviewed labels out as corpus files; Label Studio exports in."""

from __future__ import annotations

import sys

from .options import Parents, add_action_group
from .store_access import open_store


def add_parser(subparsers, parents: Parents) -> None:
    common = parents.common
    lb_sub = add_action_group(
        subparsers, "labels", parents, help="reviewed labels out as corpus files; Label Studio in"
    )
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
    li = lb_sub.add_parser(
        "import", parents=parents.with_models_root, help="import a Label Studio JSON export"
    )
    li.add_argument("file", help="Label Studio JSON export (a JSON array of tasks)")
    li.add_argument(
        "--format", default="label-studio", choices=["label-studio"], help="label-studio"
    )
    li.add_argument("--task", help="task of the tasks whose data has no 'task' field")


def handle(args) -> int:
    from ..store import export_labels, import_label_studio

    settings, engine, sessions = open_store()
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
