"""``kiemtin users``: accounts of the team application."""

from __future__ import annotations

import sys

from ..errors import KiemtinError
from .options import Parents, add_action_group
from .store_access import open_store


def add_parser(subparsers, parents: Parents) -> None:
    common = parents.common
    u_sub = add_action_group(subparsers, "users", parents, help="accounts of the team application")
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


def handle(args) -> int:
    import getpass

    from ..store.users import add_user, set_approver

    if args.users_command == "approver":
        _, _, sessions = open_store()
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
    _, _, sessions = open_store()
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
