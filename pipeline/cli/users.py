"""``kiemtin users``: accounts of the team application (add, list, switch off and on, change
role, set a new password, the rebuttal-approval right). Changes are audited with the actor
``cli``; switching off, a new role or a new password end the account's sessions at once."""

from __future__ import annotations

import sys

from ..errors import KiemtinError
from .options import Parents, add_action_group
from .store_access import open_store

ROLE_HELP = "admin, trainer, reviewer, communicator or analyst"
PASSWORD_STDIN_HELP = "read the password from standard input (default: prompt twice)"


def add_parser(subparsers, parents: Parents) -> None:
    common = parents.common
    u_sub = add_action_group(subparsers, "users", parents, help="accounts of the team application")
    ua = u_sub.add_parser("add", parents=[common], help="add an account")
    ua.add_argument("name")
    ua.add_argument("--role", required=True, help=ROLE_HELP)
    ua.add_argument("--password-stdin", action="store_true", help=PASSWORD_STDIN_HELP)
    ua.add_argument(
        "--approver",
        action="store_true",
        help="a communicator who may approve other people's rebuttals",
    )
    u_sub.add_parser("list", parents=[common], help="every account: role, state, open sessions")
    for action, help_text in (
        ("disable", "switch an account off (it cannot log in; its sessions end now)"),
        ("enable", "switch an account back on"),
    ):
        u_sub.add_parser(action, parents=[common], help=help_text).add_argument("name")
    ur = u_sub.add_parser("set-role", parents=[common], help="give an account another role")
    ur.add_argument("name")
    ur.add_argument("role", help=ROLE_HELP)
    up = u_sub.add_parser(
        "reset-password", parents=[common], help="set a new password (its sessions end now)"
    )
    up.add_argument("name")
    up.add_argument("--password-stdin", action="store_true", help=PASSWORD_STDIN_HELP)
    uap = u_sub.add_parser(
        "approver",
        parents=[common],
        help="give a communicator the right to approve rebuttals (or take it with --revoke)",
    )
    uap.add_argument("name")
    uap.add_argument("--revoke", action="store_true", help="take the right away")


def _password(args) -> str:
    import getpass

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != password:
        raise KiemtinError(
            "password",
            expected="the same password twice",
            found="two different ones",
            fix="Run the command again.",
        )
    return password


def _describe(user) -> str:
    right = ", approves rebuttals" if user.approves_rebuttals else ""
    state = "" if user.active else ", switched off"
    return f"{user.name} ({user.role}{right}{state})"


def handle(args) -> int:
    from ..store import users

    command = args.users_command
    # The password is asked for before the store opens: a typo costs no connection.
    password = _password(args) if command in ("add", "reset-password") else None
    _, _, sessions = open_store()
    with sessions() as session:
        if command == "list":
            for user, open_sessions in users.list_users(session):
                print(f"{_describe(user)}\t{open_sessions} open sessions")
            return 0
        if command == "add":
            user = users.add_user(
                session,
                args.name,
                args.role,
                password,
                actor="cli",
                approves_rebuttals=args.approver,
            )
            print(f"added {_describe(user)}", file=sys.stderr)
        elif command == "approver":
            user = users.set_approver(session, args.name, not args.revoke, actor="cli")
            state = "may" if user.approves_rebuttals else "may no longer"
            print(f"{user.name} ({user.role}) {state} approve rebuttals", file=sys.stderr)
        elif command in ("disable", "enable"):
            user = users.set_active(session, args.name, command == "enable", actor="cli")
            print(f"{_describe(user)}: {command}d", file=sys.stderr)
        elif command == "set-role":
            user = users.set_role(session, args.name, args.role, actor="cli")
            print(f"{_describe(user)}: role set, its sessions ended", file=sys.stderr)
        else:
            user = users.set_password(session, args.name, password, actor="cli")
            print(f"{_describe(user)}: new password set, its sessions ended", file=sys.stderr)
    return 0
