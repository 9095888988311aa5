"""The ms-swift launch commands (training/launch.py) built from a small export of the embedded
sample: datasets, roots, the paper's hyper-parameters and the DAPO flags against the exported
files; the export checks; the CLI's dry run; the ``train`` flow (dry run, and against a stand-in
``swift``); and prefect.yaml's deployments."""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sources.sample import write_sample
from stages.options import LLMOptions
from tests.runner import run
from training import launch
from warehouse import Warehouse

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def swift_export(tmp_path_factory, pipeline) -> Path:
    """A swift export of 12 + 12 sample records (train, val and test all have rows)."""
    root = tmp_path_factory.mktemp("train")
    sources = {"ptbxl": write_sample(root / "sample" / "ptbxl", "ptbxl", 12, 7),
               "mimic": write_sample(root / "sample" / "mimic", "mimic", 12, 8)}
    wh = Warehouse(root / "w")
    pipeline(wh, sources)
    rules = LLMOptions(backend="rules")  # the offline writer, whatever key the environment holds
    run("generate", wh, llm=rules)
    run("validate", wh, llm=rules)
    run("evidence", wh, llm=rules)
    run("export", wh, out=root / "swift", format="swift")
    manifest = _manifest(root / "swift")
    assert manifest["splits"]["train"] > 0 and manifest["splits"]["val"] > 0
    return root / "swift"


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def _flags(cmd: launch.Command) -> list[str]:
    return [a for a in cmd.argv[2:] if a.startswith("--")]


def _one(cmd: launch.Command, flag: str) -> str:
    values = cmd.flag(flag)
    assert values is not None and len(values) == 1, f"{flag}: {values}"
    return values[0]


@pytest.mark.slow
def test_sft_command_uses_the_exported_files_and_the_papers_recipe(swift_export, tmp_path):
    manifest = _manifest(swift_export)
    cmd = launch.sft(swift_export, output_dir=tmp_path / "sft")
    assert cmd.argv[:2] == ["swift", "sft"] and cmd.stage == "sft" and cmd.cwd is None
    flags = _flags(cmd)
    assert len(flags) == len(set(flags)), "a flag is given twice"
    train, val = Path(_one(cmd, "--dataset")), Path(_one(cmd, "--val_dataset"))
    assert train == swift_export / "train.jsonl" and val == swift_export / "val.jsonl"
    assert train.is_file() and val.is_file()
    assert manifest["files"]["train.jsonl"]["kind"] == manifest["files"]["val.jsonl"]["kind"] == "sft"
    assert {
        f: _one(cmd, f) for f in ("--model", "--train_type", "--num_train_epochs", "--learning_rate", "--max_length",
                                  "--torch_dtype", "--split_dataset_ratio", "--output_dir")
    } == {"--model": "Qwen/Qwen3-VL-8B-Instruct", "--train_type": "full", "--num_train_epochs": "1",
          "--learning_rate": "2e-5", "--max_length": "4096", "--torch_dtype": "bfloat16", "--split_dataset_ratio": "0",
          "--output_dir": str(tmp_path / "sft")}
    assert float(_one(cmd, "--learning_rate")) == 2e-5
    assert cmd.env["ROOT_IMAGE_DIR"] == manifest["image_root"] and cmd.env["ROOT_ECG_DIR"] == manifest["ecg_root"]
    assert cmd.env["INTERLEAVE_PROB"] == "0.1" and cmd.env["MODALITY_DROPOUT_PROB"] == "0.5"
    assert not {"--model_type", "--template", "--custom_register_path", "--deepspeed"} & set(flags)
    assert "ECG_TOWER_PATH" not in cmd.env and "NPROC_PER_NODE" not in cmd.env
    # every row's image and ECG record resolve against the environment's roots, as ms-swift and ECG-R1 join them
    row = json.loads(train.read_text().splitlines()[0])
    assert (Path(cmd.env["ROOT_IMAGE_DIR"]) / row["images"][0]).is_file()
    assert (Path(cmd.env["ROOT_ECG_DIR"]) / f"{row['objects']['ecg'][0]}.hea").is_file()


@pytest.mark.slow
def test_dapo_command_has_the_dapo_flags_and_each_reward_once(swift_export, tmp_path):
    manifest = _manifest(swift_export)
    sft_out = tmp_path / "sft"
    for step in (5, 10):  # ms-swift's layout: <output_dir>/v<n>-<time>/checkpoint-<step>
        (sft_out / "v0-20260101-000000" / f"checkpoint-{step}").mkdir(parents=True)
        (sft_out / "v0-20260101-000000" / f"checkpoint-{step}" / "config.json").write_text("{}")
        os.utime(sft_out / "v0-20260101-000000" / f"checkpoint-{step}", (step, step))
    cmd = launch.dapo(swift_export, model=sft_out, output_dir=tmp_path / "dapo")
    assert cmd.argv[:2] == ["swift", "rlhf"] and _one(cmd, "--rlhf_type") == "grpo"
    flags = _flags(cmd)
    assert len(flags) == len(set(flags)), "a flag is given twice"
    rl = Path(_one(cmd, "--dataset"))
    assert rl == swift_export / "rl_train.jsonl" and rl.is_file() and manifest["files"]["rl_train.jsonl"]["kind"] == "rl"
    assert all(json.loads(line)["solution"] for line in rl.read_text().splitlines())
    assert _one(cmd, "--model") == str(sft_out / "v0-20260101-000000" / "checkpoint-10")
    assert Path(_one(cmd, "--external_plugins")) == REPO / "training" / "swift_plugin.py"
    assert cmd.count("--reward_funcs") == 1
    assert cmd.flag("--reward_funcs") == ["ecg_format", "ecg_accuracy", "ecg_evidence"]
    assert cmd.flag("--reward_weights") == ["1", "1", "1"]
    assert {f: _one(cmd, f) for f in ("--epsilon_high", "--beta", "--num_generations", "--loss_type", "--dynamic_sample",
                                      "--overlong_filter", "--num_train_epochs", "--train_type")} == {
        "--epsilon_high": "0.28", "--beta": "0", "--num_generations": "6", "--loss_type": "bnpo",
        "--dynamic_sample": "true", "--overlong_filter": "true", "--num_train_epochs": "1", "--train_type": "full"}
    assert cmd.env["ROOT_IMAGE_DIR"] == manifest["image_root"] and cmd.env["ROOT_ECG_DIR"] == manifest["ecg_root"]
    # the plugin registers exactly these names
    plugin = (REPO / "training" / "swift_plugin.py").read_text()
    assert all(f'orms["{name}"]' in plugin for name in cmd.flag("--reward_funcs"))
    # ms-swift: the generation batch (per device x accumulation x GPUs) must be a multiple of the generations
    for gpus in range(1, 9):
        c = launch.dapo(swift_export, model=sft_out, gpus=gpus)
        batch = int(_one(c, "--per_device_train_batch_size")) * int(_one(c, "--gradient_accumulation_steps")) * gpus
        assert batch % 6 == 0, gpus
        assert (c.env.get("NPROC_PER_NODE"), c.flag("--deepspeed")) == ((None, None) if gpus == 1 else (str(gpus), ["zero2"]))
    not_yet = launch.dapo(swift_export, model=tmp_path / "nothing-yet")
    assert _one(not_yet, "--model") == str(tmp_path / "nothing-yet") and "does not exist yet" in not_yet.notes[0]
    (tmp_path / "empty").mkdir()
    with pytest.raises(launch.ExportError, match="no checkpoint"):
        launch.dapo(swift_export, model=tmp_path / "empty")


@pytest.mark.slow
def test_ecg_r1_checkout_adds_its_model_and_tower(swift_export, tmp_path):
    checkout = tmp_path / "ECG-R1"
    (checkout / "ecg_r1").mkdir(parents=True)
    (checkout / "ecg_r1" / "register.py").write_text("")
    for cmd in (launch.sft(swift_export, ecg_r1_dir=checkout), launch.dapo(swift_export, model="me/sft", ecg_r1_dir=checkout)):
        assert (_one(cmd, "--model_type"), _one(cmd, "--template")) == ("ecg_r1", "ecg_r1")
        assert _one(cmd, "--custom_register_path") == str(checkout / "ecg_r1" / "register.py")
        assert cmd.env["ECG_TOWER_PATH"] == str(checkout / "ecg_coca" / "checkpoint" / "cpt_wfep_epoch_20.pt")
        assert cmd.env["FREEZE_ECG_TOWER"] == "True" and cmd.env["FREEZE_ECG_PROJECTOR"] == "False"
        assert (cmd.env["ECG_SEQ_LENGTH"], cmd.env["ECG_PATCH_SIZE"]) == ("5000", "50")
        assert cmd.cwd == str(checkout)
    with pytest.raises(launch.ExportError, match="not an ECG-R1 checkout"):
        launch.sft(swift_export, ecg_r1_dir=tmp_path)


@pytest.mark.slow
def test_extra_arguments_replace_or_append_and_the_shell_rendering_round_trips(swift_export):
    cmd = launch.sft(swift_export, extra_args=["--learning_rate", "1e-5", "--attn_impl", "flash_attention_2"],
                     extra_env={"CUDA_VISIBLE_DEVICES": "0"})
    assert cmd.count("--learning_rate") == 1 and _one(cmd, "--learning_rate") == "1e-5"
    assert _flags(cmd)[-1] == "--attn_impl" and cmd.env["CUDA_VISIBLE_DEVICES"] == "0"
    dapo = launch.dapo(swift_export, model="me/sft", extra_args=["--reward_funcs", "ecg_format", "ecg_accuracy"])
    assert dapo.count("--reward_funcs") == 1 and dapo.flag("--reward_funcs") == ["ecg_format", "ecg_accuracy"]
    with pytest.raises(ValueError, match="--flag"):
        launch.sft(swift_export, extra_args=["oops"])
    shell = cmd.shell()
    lines = shell.split("\n")
    assert {ln.split("=", 1)[0][len("export "):] for ln in lines if ln.startswith("export ")} == set(cmd.env)
    command = shell[shell.index("swift sft"):].replace(" \\\n", " ")
    assert shlex.split(command) == cmd.argv


@pytest.mark.slow
def test_the_export_is_checked(swift_export, tmp_path):
    def copy(name: str, edit) -> Path:
        folder = tmp_path / name
        shutil.copytree(swift_export, folder, ignore=shutil.ignore_patterns("images"))
        manifest = _manifest(folder)
        manifest["image_root"] = str(swift_export / "images")
        edit(folder, manifest)
        (folder / "manifest.json").write_text(json.dumps(manifest))
        return folder

    with pytest.raises(launch.ExportError, match="format is 'trl'"):
        launch.sft(copy("trl", lambda f, m: m.update(format="trl")))
    with pytest.raises(launch.ExportError, match="missing: rl_train.jsonl"):
        launch.dapo(copy("missing", lambda f, m: (f / "rl_train.jsonl").unlink()), model="me/sft")
    with pytest.raises(launch.ExportError, match="ecg_root .* is not a folder"):
        launch.sft(copy("roots", lambda f, m: m.update(ecg_root=str(tmp_path / "nowhere"))))
    with pytest.raises(launch.ExportError, match="no manifest.json"):
        launch.sft(tmp_path)
    with pytest.raises(launch.ExportError, match="no such export folder"):
        launch.sft(tmp_path / "nowhere")

    def no_val(folder: Path, manifest: dict) -> None:
        (folder / "val.jsonl").write_text("")
        manifest["files"]["val.jsonl"].update(rows=0)

    cmd = launch.sft(copy("noval", no_val))
    assert cmd.flag("--val_dataset") is None and "no --val_dataset" in cmd.notes[0]
    assert cmd.shell().startswith("# val.jsonl has no rows")


@pytest.mark.slow
def test_cli_dry_run_prints_the_command_and_exits_2_on_a_bad_path(swift_export, tmp_path, capsys):
    res = subprocess.run([sys.executable, "-m", "training.launch", "--export", str(swift_export), "--stage", "sft",
                          "--dry-run"], capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 0, res.stderr
    assert res.stdout == launch.sft(swift_export, output_dir=REPO / "output" / "ecg-r1-sft").shell() + "\n"
    assert f"export ROOT_IMAGE_DIR={swift_export / 'images'}" in res.stdout
    bad = subprocess.run([sys.executable, "-m", "training.launch", "--export", str(tmp_path / "nope"), "--dry-run"],
                         capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip().count("\n") == 0 and "no such export folder" in bad.stderr
    assert launch.main(["--export", str(swift_export), "--stage", "dapo", "--model", "me/sft", "--dry-run", "--json",
                        "--env", "ECG_TOWER_PATH=/ckpt/tower.pt", "--", "--beta", "0.01"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["argv"][:2] == ["swift", "rlhf"] and printed["argv"][printed["argv"].index("--beta") + 1] == "0.01"
    assert printed["env"]["ECG_TOWER_PATH"] == "/ckpt/tower.pt" and printed["argv"].count("--beta") == 1


class _Lines(logging.Logger):
    def __init__(self):
        super().__init__("test-train", logging.DEBUG)
        self.lines: list[str] = []

    def _log(self, level, msg, args, *rest, **kwargs):  # noqa: D401 - collect what the flow logs
        self.lines.append(msg % args if args else str(msg))


def _fake_swift(bin_dir: Path, status: int) -> Path:
    """A stand-in ``swift`` that prints its arguments and two variables, then exits with ``status``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "swift"
    script.write_text(f"#!/bin/sh\necho \"args: $*\"\necho \"roots: $ROOT_IMAGE_DIR $ROOT_ECG_DIR\" >&2\nexit {status}\n")
    script.chmod(0o755)
    return script


@pytest.mark.slow
def test_train_flow_dry_run_and_run(prefect_harness, swift_export, tmp_path, monkeypatch):
    import flows.train as train

    logger = _Lines()
    monkeypatch.setattr(train, "get_run_logger", lambda: logger)
    expected = launch.sft(swift_export, output_dir=tmp_path / "out")
    _fake_swift(tmp_path / "bin", 0)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")

    dry = train.train_flow(str(swift_export), "sft", output_dir=str(tmp_path / "out"), dry_run=True)
    assert dry["argv"] == expected.argv and dry["env"] == expected.env and dry["shell"] == expected.shell()
    assert "returncode" not in dry and not any(line.startswith("args:") for line in logger.lines)
    assert any(expected.shell() in line for line in logger.lines)

    ran = train.train_flow(str(swift_export), "dapo", model="me/sft", output_dir=str(tmp_path / "out"))
    assert ran["returncode"] == 0
    assert f"args: {' '.join(ran['argv'][1:])}" in logger.lines  # stdout, streamed line by line
    assert f"roots: {ran['env']['ROOT_IMAGE_DIR']} {ran['env']['ROOT_ECG_DIR']}" in logger.lines  # stderr too

    _fake_swift(tmp_path / "bin", 3)
    with pytest.raises(RuntimeError, match="swift rlhf exited with status 3"):
        train.train_flow(str(swift_export), "dapo", model="me/sft")
    with pytest.raises(launch.ExportError, match="no such export folder"):
        train.train_flow(str(tmp_path / "nope"), "sft", dry_run=True)


def test_prefect_yaml_deploys_the_train_flow_on_the_gpu_pool():
    import yaml
    from prefect.flows import load_flow_from_entrypoint

    config = yaml.safe_load((REPO / "prefect.yaml").read_text())
    deployments = {d["name"]: d for d in config["deployments"]}
    assert {"train-sft", "train-dapo"} <= set(deployments)
    for name, stage in (("train-sft", "sft"), ("train-dapo", "dapo")):
        d = deployments[name]
        assert d["entrypoint"] == "flows.train:train_flow" and d["work_pool"]["name"] == "gpu"
        assert not d.get("schedules") and not d.get("schedule")
        assert d["parameters"]["stage"] == stage
        flow = load_flow_from_entrypoint(d["entrypoint"])
        assert flow.name == "train"
        validated = flow.validate_parameters(d["parameters"])
        assert {k: validated[k] for k in d["parameters"]} == d["parameters"]
    assert deployments["train-sft"]["parameters"]["model"] == launch.DEFAULT_MODEL
    assert deployments["train-dapo"]["parameters"]["model"] == deployments["train-sft"]["parameters"]["output_dir"]
