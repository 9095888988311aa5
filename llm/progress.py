"""A live rich progress bar for `llm.generate`: done / cached / failed / cost / rate."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from llm.runner import RunSummary

REFRESH_PER_S = 4


class RichProgress:
    """Pass as ``progress=`` to `llm.generate`, inside ``with RichProgress() as bar:``."""

    def __init__(self, description: str = "generate", console: Console | None = None) -> None:
        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("cached {task.fields[cached]}"),
            TextColumn("[red]failed {task.fields[failed]}"),
            TextColumn("${task.fields[cost]:.4f}"),
            TextColumn("{task.fields[rate]:.1f} req/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            refresh_per_second=REFRESH_PER_S,
        )
        self._task = self._bar.add_task(description, total=None, cached=0, failed=0, cost=0.0,
                                        rate=0.0)
        self._start = time.perf_counter()

    def __enter__(self) -> RichProgress:
        self._bar.start()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self._bar.stop()

    def __call__(self, summary: RunSummary) -> None:
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        self._bar.update(self._task, total=summary.total, completed=summary.finished,
                         cached=summary.cached + summary.skipped, failed=summary.failed,
                         cost=summary.cost_usd, rate=summary.attempts / elapsed)
