"""The `siaga` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path

from service import tools_cli
from service.auth import TOKEN_KINDS, TokenRegistry, config_line, mint_token, parse_lines
from service.broker import EmbeddedBroker
from service.errors import SiagaError
from service.network_file import load_network
from service.runner import Role, run_roles
from service.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="siaga", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run", help="API + detector worker + router + webhook dispatcher "
        "(+ embedded broker without Kafka)")
    run.add_argument("--demo", action="store_true",
                     help="also push a simulated flood (siaga simulate --scenario demo)")
    sub.add_parser("api", help="the HTTP API only")
    sub.add_parser("worker", help="the detector worker only")
    sub.add_parser("router", help="the router only: predictions downstream, reminders")
    sub.add_parser("dispatcher", help="the webhook dispatcher only (one instance)")
    broker = sub.add_parser("broker", help="run the embedded broker alone, in the foreground")
    broker.add_argument("--port", type=int, default=0)
    check = sub.add_parser("check-network", help="validate a network file and summarise it")
    check.add_argument("file", type=Path, nargs="?")
    token = sub.add_parser("token", help="bearer tokens for gateways, subscribers, operators")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    mint = token_sub.add_parser(
        "mint", help="make a new random token; print it once, with the config line to add"
    )
    mint.add_argument("--kind", choices=TOKEN_KINDS, required=True)
    mint.add_argument("--name", required=True, help="who holds it, e.g. bogor-gw")
    mint.add_argument("--stations", default="", help="gateway: station ids, comma-separated, or *")
    mint.add_argument("--regions", default="", help="gateway: every station of these regions")
    mint.add_argument("--region", default=None, help="subscriber: its region id")
    tools_cli.add_commands(sub)
    args = parser.parse_args(argv)

    settings = Settings()
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "check-network":
            return _check_network(args.file or settings.network)
        if args.command == "broker":
            return _broker(args.port)
        if args.command == "token":
            return _mint(args, settings)
        if args.command in tools_cli.COMMANDS:
            return tools_cli.run_command(args, settings)
        roles: set[Role] = {"run": {"api", "worker", "router", "dispatcher"},
                            "api": {"api"}, "worker": {"worker"}, "router": {"router"},
                            "dispatcher": {"dispatcher"}}[
            args.command
        ]  # type: ignore[assignment]
        asyncio.run(run_roles(settings, roles, demo=getattr(args, "demo", False)))
    except SiagaError as exc:
        print(f"siaga: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def _check_network(path: Path | None) -> int:
    network = load_network(path)
    water = sum(s.kind == "water_level" for s in network.stations)
    print(
        f"ok: {len(network.regions)} regions, {water} river gauges, "
        f"{len(network.stations) - water} rain gauges, {len(network.links)} river links"
    )
    return 0


def _mint(args: argparse.Namespace, settings: Settings) -> int:
    token = mint_token()
    line = config_line(
        args.name, args.kind, token,
        stations=_ids(args.stations), regions=_ids(args.regions), region=args.region,
    )
    # a typo in a scope must show now, not as a silent denial in production
    TokenRegistry(parse_lines(line, "the new entry"), load_network(settings.network))
    print("token (shown once: hand it to its holder over a private channel; siaga keeps only "
          "its hash):")
    print(f"  {token}")
    print("line to add to SIAGA_TOKENS_FILE (or to SIAGA_TOKENS, ';'-separated):")
    print(f"  {line}")
    return 0


def _ids(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _broker(port: int) -> int:
    with EmbeddedBroker(port=port) as broker:
        print(f"embedded broker on {broker.bootstrap} (pid {broker.pid}); Ctrl-C stops it")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
