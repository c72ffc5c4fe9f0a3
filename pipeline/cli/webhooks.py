"""``kiemtin webhooks``: the outbox of events for a newsroom's systems (rebuttal published,
label decided). ``kiemtin serve`` delivers them in the background; ``deliver`` does it from a
shell or a timer, ``list`` shows the latest and their state."""

from __future__ import annotations

import sys
import time

from .options import Parents, add_action_group, positive_float
from .store_access import open_store


def add_parser(subparsers, parents: Parents) -> None:
    common = parents.common
    w_sub = add_action_group(
        subparsers, "webhooks", parents, help="events posted to KIEMTIN_WEBHOOK_URL"
    )
    wd = w_sub.add_parser("deliver", parents=[common], help="post the due events (and retries)")
    wd.add_argument(
        "--every",
        type=positive_float,
        metavar="SECONDS",
        help="keep going, every SECONDS (default: once)",
    )
    w_sub.add_parser("list", parents=[common], help="the latest events and their state")


def handle(args) -> int:
    from ..store.webhooks import WebhookSettings, deliver_due, recent_deliveries

    settings = WebhookSettings.from_env()
    _, _, sessions = open_store()
    if args.webhooks_command == "list":
        with sessions() as session:
            for d in recent_deliveries(session):
                error = f"\t{d.last_error}" if d.last_error else ""
                print(f"{d.id}\t{d.event}\t{d.status}\t{d.attempts} attempts{error}")
        return 0
    if settings.url is None:
        print("kiemtin: KIEMTIN_WEBHOOK_URL is not set: no events to deliver", file=sys.stderr)
        return 0
    while True:
        report = deliver_due(sessions, settings)
        print(
            f"kiemtin: webhooks: {report.delivered} delivered, {report.retried} to retry, "
            f"{report.failed} failed",
            file=sys.stderr,
        )
        if args.every is None:
            return 0
        time.sleep(args.every)
