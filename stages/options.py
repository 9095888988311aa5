"""The parameters of the stages, as frozen, validated objects (:class:`stages.stage.Options`):
each default is stated here once.

The command line builds them from its options (an option left out takes the default below),
the Prefect flows take them as typed parameters (the UI shows and validates their fields), and
every stage receives its own in ``run_shard`` (:class:`stages.stage.Stage`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

import llm
from schemas.tables import SOURCES
from stages.stage import Options
from training.export import FORMATS

Backend = Literal["rules", "openai"]
#: The rules writer's model name (stages.llm_io.RulesBackend), priced by the "rules" row of
#: llm/prices.csv (free).
RULES_MODEL = "rules-protocol-writer-1"


def default_backend() -> str:
    """``openai`` when an API key is set (``DEEPSEEK_API_KEY``, ``OPENAI_API_KEY``), else the
    offline ``rules`` writer."""
    return "openai" if llm.resolve_api_key() else "rules"


class LLMOptions(Options):
    """Which model answers, and how hard it may be driven (one client, one global cap)."""

    backend: Backend = Field(default_factory=default_backend,
                             description="rules (the offline protocol writer) or openai (any OpenAI-compatible API)")
    model: str | None = Field(None, description="model name (default llm.DEFAULT_MODEL)")
    base_url: str | None = Field(None, description="endpoint root (default llm.DEFAULT_BASE_URL)")
    concurrency: int = Field(llm.DEFAULT_CONCURRENCY, ge=1, description="requests in flight, all shards together")
    rpm: float | None = Field(None, gt=0, description="requests per minute")
    tpm: float | None = Field(None, gt=0, description="tokens per minute")
    timeout_s: float | None = Field(None, gt=0, description="longest silence per request, s")
    max_cost_usd: float | None = Field(None, ge=0, description="no new request once this is spent")
    refresh: bool = Field(False, description="bypass the response cache")
    max_attempts: int = Field(llm.RetryPolicy.max_attempts, ge=1, description="attempts per request")
    give_up_after_s: float = Field(llm.RetryPolicy.give_up_after_s, gt=0,
                                   description="no retry of a request after this many seconds")
    backoff_initial_s: float = Field(llm.RetryPolicy.backoff_initial_s, ge=0, description="first backoff, s")
    backoff_max_s: float = Field(llm.RetryPolicy.backoff_max_s, ge=0, description="longest backoff, s")

    @property
    def model_name(self) -> str:
        """The model that answers: the rules writer's, else ``model`` or llm.DEFAULT_MODEL."""
        return RULES_MODEL if self.backend == "rules" else self.model or llm.DEFAULT_MODEL

    def retry(self) -> llm.RetryPolicy:
        return llm.RetryPolicy(self.max_attempts, self.give_up_after_s, self.backoff_initial_s, self.backoff_max_s)


class IngestParams(Options):
    sources: dict[Literal[SOURCES], str] = Field(description="source name -> folder or fsspec URL")
    shard_size: int = Field(1000, ge=1, description="records per shard")


class SelectionOptions(Options):
    """The corpus selection (stages/select.py)."""

    target: int = Field(30_000, ge=1, description="corpus size (ECG-R1's 30,000)")
    per_subject: bool = Field(True, description="at most one ECG per subject")
    seed: int = Field(0, description="seed of the draw")
    exclude_flagged: bool = Field(True, description="leave out records whose answer key cannot be read on the leads "
                                  "FeatureDB finds usable")
    require_concordant: bool = Field(True, description="leave out records whose answer key contradicts their rhythm or "
                                     "main diagnosis")


class GenerateParams(Options):
    llm: LLMOptions = Field(default_factory=LLMOptions)
    limit: int | None = Field(None, ge=0, description="at most this many samples")


class ValidateParams(Options):
    llm: LLMOptions = Field(default_factory=LLMOptions)
    max_repairs: int = Field(2, ge=0, description="repair rounds for an invalid answer (0: none)")


class EvidenceParams(Options):
    llm: LLMOptions = Field(default_factory=LLMOptions)


class ExportOptions(Options):
    """Training files of the curated corpus (stages/export.py)."""

    out: Path = Field(description="export folder")
    format: Literal[FORMATS] = Field("swift", description="swift (ms-swift, ECG-R1's layout) or trl")
    rl_size: int | None = Field(None, ge=0, description="RL rows (default: 3,948 per 30,000 SFT rows)")
    imd: tuple[float, float] | None = Field(None, description="an Interleaved Modality Dropout copy of the "
                                                              "training file: (drop, swap) probabilities")
    seed: int = Field(0, description="seed of the selections")
    absolute: bool = Field(False, description="absolute paths (roots '/') instead of relative ones")

    @field_validator("imd")
    @classmethod
    def _probabilities(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not all(0 <= x <= 1 for x in value):
            raise ValueError("needs two probabilities between 0 and 1, e.g. 0.5,0.1")
        return value
