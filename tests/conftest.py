"""Fixtures shared by every tier: where the shared API fixtures live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """``shared/`` beside the repository (or ``SHARED_DIR``)."""
    return Path(os.environ.get("SHARED_DIR", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def skillable_fixtures() -> Path:
    path = shared_dir() / "fixtures" / "skillable"
    if not path.is_dir():
        pytest.fail(f"the shared API fixtures are missing: {path} (set SHARED_DIR)")
    return path
