"""Servers a test, a benchmark or `relais dev` started and left running: a Postgres or a
Temporal server whose data lives under a given folder."""

from __future__ import annotations

from pathlib import Path

import psutil

SERVERS = ("postgres", "temporal", "temporal-test-server")


def servers_under(folder: Path) -> list[psutil.Process]:
    """Postgres (`-D <pgdata>`) and Temporal (`--db-filename <file>`) processes whose
    command line names a path inside `folder`."""
    root = str(Path(folder).resolve()).rstrip("/") + "/"
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            name = proc.info["name"] or ""
            cmdline = proc.info["cmdline"] or []
        except psutil.Error:
            continue
        if not any(name.startswith(s) for s in SERVERS):
            continue
        if any(arg.startswith(root) or arg + "/" == root for arg in cmdline):
            found.append(proc)
    return found


def describe(procs: list[psutil.Process]) -> str:
    out = []
    for p in procs:
        try:
            out.append(f"{p.pid} {' '.join(p.cmdline())[:200]}")
        except psutil.Error:
            continue
    return "\n".join(out)
