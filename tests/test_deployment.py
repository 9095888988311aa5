"""The operator's path on a real Prefect server: `prefect server start`, a process work pool,
`prefect deploy`, `prefect worker start`, `prefect deployment run 'corpus/sample'`; the run
completes and fills the warehouse. Everything started here is stopped by process id."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from warehouse import Warehouse

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
PREFECT = [sys.executable, "-m", "prefect"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"prefect server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"prefect server not healthy after {timeout_s} s")


def _stop(proc: subprocess.Popen) -> None:
    """Stop a process started in its own session, and everything it started."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def test_the_corpus_deployments_validate_against_the_flow(tmp_path, monkeypatch):
    import yaml
    from prefect.flows import load_flow_from_entrypoint

    deployments = {d["name"]: d for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]}
    for name in ("regenerate", "sample"):
        d = deployments[name]
        flow = load_flow_from_entrypoint(d["entrypoint"])
        assert flow.name == "corpus" and d["work_pool"]["name"] == "cpu"
        monkeypatch.chdir(tmp_path)  # relative paths resolve against the worker's folder (here: tmp_path)
        validated = flow.validate_parameters(d["parameters"])  # the options objects, as the flow receives them
        assert validated["warehouse"].root == tmp_path / d["parameters"]["warehouse"]
        plain = {k: v.model_dump(mode="json", exclude_unset=True) if hasattr(v, "model_dump") else v
                 for k, v in validated.items() if k in d["parameters"] and k != "warehouse"}
        assert plain == {k: v for k, v in d["parameters"].items() if k != "warehouse"}
    (schedule,) = deployments["regenerate"]["schedules"]
    assert schedule["cron"] and schedule["active"] is False  # present, off until an operator resumes it
    assert deployments["regenerate"]["parameters"]["selection"]["target"] == 30000
    assert all(deployments[name]["concurrency_limit"] == 1 for name in ("regenerate", "sample"))  # one writer
    assert deployments["sample"]["parameters"] == {"warehouse": "out/sample-warehouse", "sample": True,
                                                   "llm": {"backend": "rules"}}


def test_deployment_run_of_corpus_sample_on_a_real_server(tmp_path):
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), PREFECT_API_URL=api,
               PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_WORKER_QUERY_SECONDS="1",
               PREFECT_CLI_PROMPT="false")
    logs = tmp_path / "logs"
    logs.mkdir()
    started: list[subprocess.Popen] = []

    def start(name: str, *args: str) -> subprocess.Popen:
        with open(logs / f"{name}.log", "w") as log:
            started.append(subprocess.Popen([*PREFECT, *args], cwd=ROOT, env=env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True))
        return started[-1]

    def prefect(*args: str, timeout: float = 120) -> str:
        res = subprocess.run([*PREFECT, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        assert res.returncode == 0, f"prefect {' '.join(args)}:\n{res.stdout}\n{res.stderr}"
        return res.stdout

    warehouse = tmp_path / "warehouse"
    try:
        server = start("server", "server", "start", "--host", "127.0.0.1", "--port", str(port))
        _wait_healthy(api, server)
        prefect("work-pool", "create", "cpu", "--type", "process")
        prefect("--no-prompt", "deploy", "--name", "sample")
        start("worker", "worker", "start", "--pool", "cpu", "--limit", "1")
        out = prefect("deployment", "run", "corpus/sample", "--param", f"warehouse={json.dumps(str(warehouse))}",
                      "--watch", "--watch-interval", "2", "--watch-timeout", "420", timeout=480)
        assert "Completed" in out, out
    except BaseException:
        for log in sorted(logs.iterdir()):
            print(f"--- {log.name}\n{log.read_text()[-4000:]}")
        raise
    finally:
        for proc in reversed(started):
            _stop(proc)
    assert all(p.poll() is not None for p in started)

    wh = Warehouse(warehouse)
    run = wh.sql("SELECT * FROM runs WHERE flow = 'corpus'").row(0, named=True)
    assert run["status"] == "completed" and json.loads(run["parameters"])["sample"] is True
    accepted = wh.sql("SELECT count(*) FROM corpus").item()
    assert accepted == json.loads(run["counts"])["validate"]["accepted"] > 0
    assert (warehouse / "reports" / run["run_id"] / "report.html").is_file()
