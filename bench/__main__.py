"""`make bench`: every benchmark, one table of figures with their same-run baselines."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import sys

from bench import convention, monitoring, onboarding, pages, people, pooling, recruitment
from bench.harness import stack, table
from bench.regional import REGIONAL
from relais.logging import configure_logging


def _stop_on_signals() -> None:
    """SIGTERM or SIGHUP end the benchmark as Ctrl-C does: the running round is cancelled
    and the throw-away Postgres and dev server are stopped on the way out (by default
    Python dies on them at once, leaving both running)."""
    main_task = asyncio.current_task()
    assert main_task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, main_task.cancel)


async def main(rounds: int, large: int, only: str | None = None, scale: float = 1.0) -> None:
    configure_logging(json=False, level="WARNING")
    _stop_on_signals()
    figures = []
    async with stack() as s:
        if only in (None, "onboarding"):
            figures += await onboarding.run(s, rounds)
        if only in (None, "recruitment"):
            figures += await recruitment.run(s, rounds, large)
        if only in (None, "pooling"):
            figures += await pooling.run(s, rounds)
        if only in (None, "convention"):
            figures += await convention.run(s, rounds)
        if only in (None, "monitoring"):
            figures += await monitoring.run(s, rounds)
        if only in (None, "people"):
            figures += await people.run(s, rounds)
        if only in (None, "pages"):
            figures += await pages.run(s, rounds, REGIONAL.scaled(scale))
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; medians of {rounds} alternating rounds\n"
    )
    print(table(figures))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument(
        "--large",
        type=int,
        default=recruitment.LARGE,
        help="referrals in the one-campaign pass (0 to skip)",
    )
    p.add_argument(
        "--only",
        choices=[
            "onboarding",
            "recruitment",
            "pooling",
            "convention",
            "monitoring",
            "people",
            "pages",
        ],
        default=None,
    )
    p.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="the page benchmark's regional set, as a fraction of issue 20's volumes",
    )
    args = p.parse_args()
    # Every line as it is printed, even into a pipe (make bench | tee): a run killed midway
    # still shows what it measured.
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    asyncio.run(main(args.rounds, args.large, args.only, args.scale))
