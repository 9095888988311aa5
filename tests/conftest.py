"""Shared fixtures: the real data in ../shared/data (skipped when absent) and synthetic samples."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def _data_dir(name: str) -> Path:
    path = DATA / name
    if not path.is_dir():
        pytest.skip(f"real data not found: {path} (place the shared data next to the repository)")
    return path


@pytest.fixture(scope="session")
def ptbxl_dir() -> Path:
    return _data_dir("ptbxl-sample")


@pytest.fixture(scope="session")
def ludb_dir() -> Path:
    return _data_dir("ludb-dev")


@pytest.fixture(scope="session")
def sample_ptbxl(tmp_path_factory) -> Path:
    from sources.sample import write_sample

    return write_sample(tmp_path_factory.mktemp("sample") / "ptbxl", "ptbxl", 8, 7)


@pytest.fixture(scope="session")
def sample_mimic(tmp_path_factory) -> Path:
    from sources.sample import write_sample

    return write_sample(tmp_path_factory.mktemp("sample") / "mimic", "mimic", 8, 8)


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect server for the whole session (it takes ~15 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
