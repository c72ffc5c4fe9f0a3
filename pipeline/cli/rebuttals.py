"""``kiemtin rebuttals``: rebuttal packs of confirmed narratives."""

from __future__ import annotations

import os
import sys

from .options import Parents, add_action_group, count
from .store_access import open_store


def add_parser(subparsers, parents: Parents) -> None:
    common = parents.common
    r_sub = add_action_group(
        subparsers, "rebuttals", parents, help="rebuttals of confirmed narratives"
    )
    re_ = r_sub.add_parser(
        "export",
        parents=[common],
        help="write a narrative's rebuttal pack (Markdown, HTML and, once published, ClaimReview "
        "JSON-LD) into a directory",
    )
    re_.add_argument("group_id", type=count(1), metavar="GROUP_ID", help="the narrative group")
    re_.add_argument("-o", "--output", required=True, help="directory (created if missing)")
    re_.add_argument(
        "--language",
        choices=("vi", "en"),
        help="the pack's language (default: KIEMTIN_LANGUAGE, else vi)",
    )


def handle(args) -> int:
    from ..store.rebuttals import group_pack
    from ..web.i18n import DEFAULT_LANGUAGE, check_language
    from ..web.pack import write_pack

    language = args.language or check_language(
        os.environ.get("KIEMTIN_LANGUAGE", "").strip() or DEFAULT_LANGUAGE
    )
    _, _, sessions = open_store()
    with sessions() as session:
        pack = group_pack(session, args.group_id)
    for path in write_pack(pack, args.output, language):
        print(f"kiemtin: wrote {path}", file=sys.stderr)
    return 0
