"""Prefect ``train`` flow: the ms-swift SFT or DAPO run of an export (:mod:`training.launch`).

The command and its environment are built from the export's manifest (a bad export fails the
flow before anything starts), logged and kept as a markdown artifact of the run; with
``dry_run`` that is all, otherwise one task runs the command and streams its output, line by
line, to the Prefect log. A non-zero exit fails the task and the flow. The deployments
``train-sft`` and ``train-dapo`` are in ``prefect.yaml`` (work pool ``gpu``).
"""

from __future__ import annotations

import os
import subprocess

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from training import launch


@task(name="train-run")
def run_command(argv: list[str], env: dict[str, str], cwd: str | None) -> int:
    """Run ``argv`` with ``env`` added to this process's environment, its stdout and stderr
    streamed to the Prefect log; returns 0 or raises with the exit status."""
    logger = get_run_logger()
    try:
        proc = subprocess.Popen(argv, env={**os.environ, **env}, cwd=cwd, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1)
    except FileNotFoundError:
        raise RuntimeError(f"{argv[0]!r} not found: install ms-swift (or ECG-R1's fork) on the worker") from None
    assert proc.stdout is not None
    with proc.stdout:
        for line in proc.stdout:
            logger.info(line.rstrip("\n"))
    status = proc.wait()
    if status != 0:
        raise RuntimeError(f"{' '.join(argv[:2])} exited with status {status}")
    return status


@flow(name="train")
def train_flow(export: str, stage: str = "sft", model: str | None = None, output_dir: str | None = None,
               ecg_r1_dir: str | None = None, dry_run: bool = False, extra_args: list[str] | None = None,
               gpus: int = 1, extra_env: dict[str, str] | None = None) -> dict:
    """Train ``stage`` ("sft" or "dapo") on the ms-swift export ``export``; returns the command
    (``stage``, ``argv``, ``env``, ``cwd``, ``notes``, ``shell``) and, when it ran, ``returncode``."""
    logger = get_run_logger()
    cmd = launch.build(stage, export, model=model, output_dir=output_dir, ecg_r1_dir=ecg_r1_dir, gpus=gpus,
                       extra_args=list(extra_args or []), extra_env=extra_env)
    shell = cmd.shell()
    logger.info("%s%s:\n%s", "dry run, not started: " if dry_run else "", stage, shell)
    create_markdown_artifact(key=f"train-{stage}-command", description=f"train {stage}: the ms-swift command",
                             markdown=f"```bash\n{shell}\n```")
    result = cmd.to_dict()
    if not dry_run:
        result["returncode"] = run_command(cmd.argv, cmd.env, cmd.cwd)
    return result
