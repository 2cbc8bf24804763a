"""Run a simulator: python -m simulators <name> [--host H] [--port P] [options]."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from simulators import khoros, sapmc, sapmc_caller
from simulators.server import serve_forever

# A simulator module provides CLI_HELP, DEFAULT_PORT, add_arguments(parser), build_app(args)
# -> WSGI app and describe(base_url) -> str. Register a new one with a line here.
SIMULATORS: dict[str, ModuleType] = {
    "khoros": khoros,
    "sapmc": sapmc,
}
# A caller is a client, not a server: CLI_HELP, add_arguments(parser) and run(args) -> exit code.
CALLERS: dict[str, ModuleType] = {
    "sapmc-caller": sapmc_caller,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulators", description=__doc__)
    subparsers = parser.add_subparsers(dest="simulator", required=True, metavar="SIMULATOR")
    for name, module in SIMULATORS.items():
        sub = subparsers.add_parser(name, help=module.CLI_HELP, description=module.CLI_HELP)
        sub.add_argument("--host", default="127.0.0.1")
        sub.add_argument("--port", type=int, default=module.DEFAULT_PORT)
        module.add_arguments(sub)
    for name, module in CALLERS.items():
        sub = subparsers.add_parser(name, help=module.CLI_HELP, description=module.CLI_HELP)
        module.add_arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None, serve: Callable[..., Any] = serve_forever) -> int:
    args = build_parser().parse_args(argv)
    if args.simulator in CALLERS:
        return CALLERS[args.simulator].run(args)
    module = SIMULATORS[args.simulator]
    app = module.build_app(args)

    def announce(base_url: str) -> None:
        print(module.describe(base_url), flush=True)

    serve(app, args.host, args.port, announce)
    return 0


if __name__ == "__main__":
    sys.exit(main())
