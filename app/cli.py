"""Operator commands: `python -m app.cli COMMAND ...`.

Each command is a function registered with @command; other modules add theirs the same way
(for example `config get|set|list`, `seed-demo`) and are imported in `_load_commands`.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Sequence

Handler = Callable[[argparse.Namespace], int]
Configure = Callable[[argparse.ArgumentParser], Handler]
_COMMANDS: dict[str, tuple[str, Configure]] = {}


def command(name: str, *, help: str) -> Callable[[Configure], Configure]:  # noqa: A002
    """Register a sub-command: the decorated function adds its arguments and returns its handler."""

    def decorate(configure: Configure) -> Configure:
        _COMMANDS[name] = (help, configure)
        return configure

    return decorate


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app.cli", description="LoRA Studio operator commands.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, configure) in sorted(_COMMANDS.items()):
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        command_parser.set_defaults(handler=configure(command_parser))
    return parser


def _migrate_if_needed() -> None:
    """Commands work on a fresh install: bring the database to the current schema first."""
    from app.db import migrate

    migrate()


@command("create-admin", help="Create an admin account, or make an existing account an admin.")
def _create_admin(parser: argparse.ArgumentParser) -> Handler:
    parser.add_argument("--email", required=True)
    parser.add_argument("--name", default="Administrator", help="display name for a new account")
    parser.add_argument(
        "--password-env",
        metavar="VAR",
        help="read the password from this environment variable (default: prompt; "
        "an existing account keeps its password when none is given)",
    )
    parser.add_argument("--no-password", action="store_true", help="existing account: keep its password")

    def run(args: argparse.Namespace) -> int:
        from app.auth import accounts
        from app.db import session_scope

        _migrate_if_needed()
        if args.password_env:
            password = os.environ.get(args.password_env, "")
            if not password:
                print(f"error: ${args.password_env} is empty or unset", file=sys.stderr)
                return 2
        elif args.no_password:
            password = ""
        else:
            password = getpass.getpass("Password for the admin account: ")
            if password != getpass.getpass("Repeat the password: "):
                print("error: the passwords differ", file=sys.stderr)
                return 2
        with session_scope() as db:
            try:
                user = accounts.create_admin(db, email=args.email, password=password, display_name=args.name)
            except accounts.AccountError as exc:
                print(f"error: {exc.message}", file=sys.stderr)
                return 1
        print(f"{user.email} is an admin (user id {user.id}).")
        return 0

    return run


def _load_commands() -> None:
    """Import the modules that register commands (add yours here)."""
    import app.config.cli  # noqa: F401 - config get|set|reset|list|audit


def main(argv: Sequence[str] | None = None) -> int:
    _load_commands()
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    # Run the importable module's main, so commands that other modules register with
    # `from app.cli import command` land in the same table as the ones defined here.
    from app import cli

    sys.exit(cli.main())
