"""`config get|set|reset|list|audit` for operators; the same validation and audit as the admin page.

A change made here reaches running workers through Redis when REDIS_URL is set, else through their
poll of the shared database within a few seconds.
"""

from __future__ import annotations

import argparse
import getpass
import json
import socket
import sys
from collections.abc import Callable
from typing import TextIO

from app.cli import command
from app.config.keys import ConfigError
from app.config.runtime import Entry, RuntimeConfig
from app.config.store import Actor


@command("config", help="Read and change the run-time configuration (validated and audited).")
def _configure(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    commands = parser.add_subparsers(dest="config_command", required=True, metavar="{get,set,reset,list,audit}")
    get = commands.add_parser("get", help="print one key's value and where it comes from")
    get.add_argument("key")
    change = commands.add_parser("set", help="override a run-time key (validated, audited)")
    change.add_argument("key")
    change.add_argument("value", help="e.g. false, 0.7, '4,8,16', 'Plain text'")
    reset = commands.add_parser("reset", help="drop the override: back to environment or default")
    reset.add_argument("key")
    listing = commands.add_parser("list", help="every key: value, source, bounds")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    audit = commands.add_parser("audit", help="recent changes, newest first")
    audit.add_argument("--limit", type=int, default=20)
    audit.add_argument("--key")
    return run


def _actor() -> Actor:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(f"cli:{user}@{socket.gethostname()}"[:200])


def _shown(entry: Entry) -> str:
    return "(secret, not shown)" if entry.value is None else entry.value


def run(args: argparse.Namespace, *, config: RuntimeConfig | None = None, out: TextIO = sys.stdout) -> int:
    if config is None:
        from app.config.runtime import get_runtime_config
        from app.db import migrate

        migrate()  # a fresh install works too: bring the database to the current schema first
        config = get_runtime_config()
    try:
        return _run(args, config, out)
    except ConfigError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, config: RuntimeConfig, out: TextIO) -> int:
    command = args.config_command
    if command == "get":
        key = config.registry.lookup(args.key)
        entry = next(entry for entry in config.entries() if entry.key == key.name)
        print(f"{entry.key} = {_shown(entry)}  ({entry.source})", file=out)
        return 0
    if command == "set":
        record = config.set(args.key, args.value, actor=_actor())
        print(f"{record.key}: {record.old} -> {record.new}  (change {record.id})", file=out)
        return 0
    if command == "reset":
        record = config.reset(args.key, actor=_actor())
        if record is None:
            print(f"{config.registry.lookup(args.key).name}: no override to reset", file=out)
        else:
            print(f"{record.key}: {record.old} -> {record.new}  (reset, change {record.id})", file=out)
        return 0
    if command == "list":
        entries = config.entries()
        if args.json:
            rows = [
                {"key": e.key, "value": None if e.value is None else json.loads(e.value), "source": e.source}
                | {"editable": e.editable, "secret": e.secret, "bounds": e.bounds, "env": e.env_var}
                for e in entries
            ]
            print(json.dumps(rows, indent=2), file=out)
            return 0
        width = max(len(e.key) for e in entries)
        for e in entries:
            flag = "" if e.editable else "  [env only]"
            print(f"{e.key:<{width}}  {_shown(e):<40}  {e.source:<8}  {e.bounds}{flag}", file=out)
        return 0
    if command == "audit":
        for record in config.audit_log(limit=args.limit, key=args.key):
            when = record.at.strftime("%Y-%m-%d %H:%M:%S")
            print(
                f"{record.id:>6}  {when}  {record.actor}  {record.action} {record.key}: {record.old} -> {record.new}",
                file=out,
            )
        return 0
    raise AssertionError(command)
