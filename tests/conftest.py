"""Shared fixtures: the real data in ../shared/data (skipped when absent) and synthetic samples."""

from __future__ import annotations

import os
import re
from pathlib import Path

import polars as pl
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


class Grounding:
    """Checks shared by the prompt and interpretation tests: number tokens, whether each is a
    formatted value of the record's rows, and the fixed ECG-R1 interpretation format."""

    NUMBER = re.compile(r"(?<![\w.+])-?\d+(?:\.\d+)?(?![\w.])")

    @staticmethod
    def format() -> re.Pattern:
        from protocol.steps import STEPS

        return re.compile(r"^<think>\n" + "".join(rf"\*\*{re.escape(s.heading)}\*\*\n[^\n*]+\n" for s in STEPS)
                          + r"</think>\n[^\n]+\n<answer>[^<\n]*</answer>$")

    @classmethod
    def numbers(cls, content: str) -> list[str]:
        """Number tokens, leaving out step headings and the per-lead table's header row."""
        keep = [ln for ln in content.splitlines() if not ln.startswith("| lead |")]
        return cls.NUMBER.findall(re.sub(r"Step \d", "", "\n".join(keep)))

    @staticmethod
    def traceable(*frames: pl.DataFrame) -> set[str]:
        """Every rendering :func:`prompts.render.fmt` can give of the record's numeric values."""
        from prompts.render import fmt

        out = set()
        for df in frames:
            for col in df.select(pl.selectors.numeric()).columns:
                for v in df[col].drop_nulls().drop_nans().to_list():
                    out |= {fmt(v, "ms"), fmt(v, "ratio")}
        return {s.split(" ")[0] for s in out}

    @classmethod
    def stray(cls, content: str, record_id: str, *frames: pl.DataFrame) -> list[str]:
        """The numbers of ``content`` that are no formatted value of ``record_id``'s rows."""
        allowed = cls.traceable(*(df.filter(pl.col("record_id") == record_id) for df in frames))
        return [n for n in cls.numbers(content) if n not in allowed]


@pytest.fixture(scope="session")
def grounding() -> type[Grounding]:
    return Grounding
