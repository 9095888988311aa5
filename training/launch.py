"""The ms-swift command lines that train on an export: SFT (``swift sft``) and DAPO-style GRPO
(``swift rlhf --rlhf_type grpo``), with their environment.

Pure: :func:`sft` and :func:`dapo` read the export's ``manifest.json`` and build a
:class:`Command` (``argv``, ``env``, ``cwd``); nothing runs (``flows/train.py`` runs them, and
so does :func:`main` without ``--dry-run``). The recipe is ECG-R1's (PKUDigitalHealth/ECG-R1,
``scripts/shells/sft_train.sh`` and ``scripts/shells/rl_train_dapo.sh``); where it differs:

- the datasets are the export's files (``train.jsonl``, ``val.jsonl`` as ``--val_dataset`` when
  it has rows, the RL file), and ``ROOT_IMAGE_DIR`` / ``ROOT_ECG_DIR`` are the manifest's roots;
- the rewards are ours (``training/swift_plugin.py``: ``ecg_format``, ``ecg_accuracy``,
  ``ecg_evidence``), passed once. ECG-R1's DAPO script passes ``--reward_funcs`` twice
  (``soft_overlong``, then its three rewards); ms-swift parses its arguments with argparse, where
  the last occurrence wins, so its ``soft_overlong`` reward (and ``--soft_cache_length 512``)
  never took effect;
- ``--epsilon_high 0.28`` (DAPO's clip-higher value; ECG-R1's script has 0.30);
- ``--split_dataset_ratio 0`` for GRPO too (ms-swift 3.x would otherwise hold out 1 %), so no
  evaluation during GRPO;
- no vLLM by default: ECG-R1 generates on a separate ``swift rollout`` server
  (``--use_vllm true --vllm_mode server``); pass those flags, or ``--use_vllm true --vllm_mode
  colocate``, as extra arguments;
- the per-device GRPO batch is ECG-R1's 4 (x 2 accumulation steps) when 4 x 2 x GPUs is a
  multiple of the 6 generations (as on its 6 GPUs), else 3, since ms-swift requires the
  generation batch to be a multiple of ``--num_generations``;
- hardware and logging choices are left to extra arguments: ``--deepspeed zero2`` is added only
  for more than one GPU; ``--attn_impl flash_attention_2``, ``--report_to swanlab`` and the
  data-loader worker counts are not set.

With an ECG-R1 checkout (``ecg_r1_dir``, installed as its README says: its ms-swift fork, its
requirements and ``ecg_r1`` for vLLM) the model is ECG-R1's (``--model_type ecg_r1 --template
ecg_r1 --custom_register_path <dir>/ecg_r1/register.py``) with its ECG tower environment, the
command runs in the checkout, and the template applies Interleaved Modality Dropout online
(``INTERLEAVE_PROB``, ``MODALITY_DROPOUT_PROB``); without one it is plain Qwen3-VL, which reads
the images (``ROOT_IMAGE_DIR`` is stock ms-swift) and ignores the ECG records.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from training.export import FILES, MANIFEST
from training.rewards import WEIGHTS

__all__ = ["DEFAULT_MODEL", "SWIFT_REWARDS", "STAGES", "Command", "Export", "ExportError", "build", "dapo",
           "default_output_dir", "latest_checkpoint", "load_export", "main", "sft"]

DEFAULT_MODEL = "Qwen/Qwen3-VL-8B-Instruct"
STAGES = ("sft", "dapo")
REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "training" / "swift_plugin.py"
#: The ORM names that training/swift_plugin.py registers, in the order of training.rewards.WEIGHTS.
SWIFT_REWARDS = ("ecg_format", "ecg_accuracy", "ecg_evidence")
SFT_FILE, VAL_FILE = (FILES["swift"]["sft"].format(split=s) + ".jsonl" for s in ("train", "val"))
NUM_GENERATIONS = 6

#: Environment of both of ECG-R1's scripts that applies to any Qwen3-VL run: the image token
#: budget, and ECG-R1's template's online Interleaved Modality Dropout (read by its template only).
BASE_ENV = {"IMAGE_MAX_TOKEN_NUM": "768", "INTERLEAVE_PROB": "0.1", "MODALITY_DROPOUT_PROB": "0.5"}
#: ECG-R1's model: the ECG signal length and patches, and its ECG-CoCa tower (frozen) and projector
#: (trained). ECG_TOWER_PATH is its scripts' path, relative to the checkout (its README says to put
#: the checkpoint in ecg_coca/open_clip/checkpoint instead: override with extra_env if it is there).
ECG_R1_ENV = {"ECG_SEQ_LENGTH": "5000", "ECG_PATCH_SIZE": "50",
              "ECG_TOWER_PATH": "ecg_coca/checkpoint/cpt_wfep_epoch_20.pt", "ECG_PROJECTOR_TYPE": "mlp2x_gelu",
              "ECG_MODEL_CONFIG": "coca_ViT-B-32", "FREEZE_ECG_TOWER": "True", "FREEZE_ECG_PROJECTOR": "False"}

#: ``swift sft`` (ECG-R1's sft_train.sh; the paper: full fine-tune, 1 epoch, lr 2e-5, 4,096 tokens, bf16).
SFT_ARGS: dict[str, str] = {
    "--train_type": "full", "--torch_dtype": "bfloat16", "--num_train_epochs": "1", "--learning_rate": "2e-5",
    "--max_length": "4096", "--split_dataset_ratio": "0", "--per_device_train_batch_size": "4",
    "--per_device_eval_batch_size": "4", "--gradient_accumulation_steps": "2", "--warmup_ratio": "0.03",
    "--weight_decay": "0", "--freeze_vit": "true", "--freeze_aligner": "false", "--eval_steps": "5000",
    "--save_steps": "5000", "--save_total_limit": "2", "--logging_steps": "1", "--dataset_shuffle": "true",
    "--train_dataloader_shuffle": "true", "--use_hf": "true",
}
#: ``swift rlhf --rlhf_type grpo`` as DAPO (ms-swift's docs, Instruction/GRPO/AdvancedResearch/DAPO.md:
#: clip-higher, dynamic sampling, token-level loss ``bnpo``, overlong filtering) with ECG-R1's
#: rl_train_dapo.sh for the rest (beta 0, 6 generations, 2,048 completion tokens, lr 1e-6).
DAPO_ARGS: dict[str, str] = {
    "--rlhf_type": "grpo", "--dynamic_sample": "true", "--max_resample_times": "3", "--loss_type": "bnpo",
    "--epsilon_high": "0.28", "--overlong_filter": "true", "--beta": "0",
    "--num_generations": str(NUM_GENERATIONS), "--max_completion_length": "2048", "--temperature": "1.0",
    "--num_iterations": "1", "--train_type": "full", "--torch_dtype": "bfloat16", "--num_train_epochs": "1",
    "--learning_rate": "1e-6", "--split_dataset_ratio": "0", "--gradient_accumulation_steps": "2",
    "--warmup_ratio": "0.01", "--save_strategy": "steps", "--save_steps": "100", "--save_total_limit": "1",
    "--logging_steps": "1", "--log_completions": "true", "--dataset_shuffle": "false",
    "--train_dataloader_shuffle": "false", "--use_hf": "true",
}


class ExportError(ValueError):
    """The export cannot be trained on: a one-line reason."""


@dataclass(frozen=True)
class Export:
    """A read export: its folder, manifest and resolved roots."""

    folder: Path
    manifest: dict
    image_root: Path
    ecg_root: Path

    def file(self, name: str, kind: str) -> Path:
        """The path of file ``name``, which the manifest must list with ``kind``."""
        meta = self.manifest["files"].get(name)
        if meta is None:
            raise ExportError(f"{self.folder}: manifest.json lists no {name}")
        if meta.get("kind", "sft") != kind:
            raise ExportError(f"{self.folder}: {name} is a {meta.get('kind')} file, not {kind}")
        return self.folder / name

    def rows(self, name: str) -> int:
        return int(self.manifest["files"][name]["rows"])

    @property
    def rl_name(self) -> str:
        names = [n for n, m in self.manifest["files"].items() if m.get("kind") == "rl"]
        if len(names) != 1:
            raise ExportError(f"{self.folder}: manifest.json lists {len(names)} RL files, expected one")
        return names[0]


def load_export(folder: str | Path) -> Export:
    """The export in ``folder``, checked: manifest.json readable, format ``swift``, every listed
    file present and both roots existing folders. ExportError otherwise."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise ExportError(f"{folder}: no such export folder")
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        raise ExportError(f"{folder}: no manifest.json (not an export folder)") from None
    except (OSError, ValueError) as exc:
        raise ExportError(f"{folder}/manifest.json: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ExportError(f"{folder}/manifest.json: no 'files' table")
    if manifest.get("format") != "swift":
        raise ExportError(f"{folder}: the export's format is {manifest.get('format')!r}; ms-swift needs a 'swift' "
                          "export (ecg-corpus export --format swift)")
    missing = [name for name in manifest["files"] if not (folder / name).is_file()]
    if missing:
        raise ExportError(f"{folder}: listed in manifest.json but missing: {', '.join(sorted(missing))}")
    roots = {}
    for key in ("image_root", "ecg_root"):
        if not manifest.get(key):
            raise ExportError(f"{folder}/manifest.json: no {key}")
        root = Path(manifest[key])
        root = (root if root.is_absolute() else folder / root).resolve()
        if not root.is_dir():
            raise ExportError(f"{folder}: the manifest's {key} {root} is not a folder")
        roots[key] = root
    return Export(folder, manifest, roots["image_root"], roots["ecg_root"])


@dataclass
class Command:
    """One launch: ``argv`` to run with ``env`` added to the environment, in ``cwd`` (None: anywhere)."""

    stage: str
    argv: list[str]
    env: dict[str, str]
    cwd: str | None = None
    notes: list[str] = field(default_factory=list)

    def flag(self, name: str) -> list[str] | None:
        """The values given to ``name`` (``[]`` for a bare flag), None when absent."""
        groups = _groups(self.argv[2:])
        return next((values for flag, values in groups if flag == name), None)

    def count(self, name: str) -> int:
        return sum(flag == name for flag, _ in _groups(self.argv[2:]))

    def shell(self) -> str:
        """A bash rendering to print or paste: ``cd``, one ``export`` per variable, then the
        command one flag per line."""
        lines = [f"# {note}" for note in self.notes]
        if self.cwd:
            lines.append(f"cd {shlex.quote(self.cwd)}")
        lines += [f"export {k}={shlex.quote(v)}" for k, v in self.env.items()]
        head = " ".join(shlex.quote(a) for a in self.argv[:2])
        body = [" ".join(shlex.quote(a) for a in [flag, *values]) for flag, values in _groups(self.argv[2:])]
        lines.append(" \\\n    ".join([head, *body]))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {**asdict(self), "shell": self.shell()}


def _groups(args: list[str]) -> list[tuple[str, list[str]]]:
    """``--flag v1 v2 --other v`` as ``[("--flag", ["v1", "v2"]), ("--other", ["v"])]``."""
    groups: list[tuple[str, list[str]]] = []
    for arg in args:
        if arg.startswith("--") or not groups:
            groups.append((arg, []))
        else:
            groups[-1][1].append(arg)
    return groups


def _merge(base: list[tuple[str, list[str]]], extra: list[str]) -> list[str]:
    """``base`` with ``extra`` applied: a flag already there gets the new values in its place (so
    no flag is given twice), a new one is appended."""
    out = [(flag, list(values)) for flag, values in base]
    for flag, values in _groups(list(extra)):
        if not flag.startswith("--"):
            raise ValueError(f"extra arguments must start with a --flag, not {flag!r}")
        at = next((i for i, (f, _) in enumerate(out) if f == flag), None)
        if at is None:
            out.append((flag, values))
        else:
            out[at] = (flag, values)
    return [a for flag, values in out for a in (flag, *values)]


def default_output_dir(stage: str) -> Path:
    """``output/ecg-r1-<stage>`` under the current folder (ECG-R1's ``ouput/ecg-r1-8b[-dapo]``)."""
    return Path("output", f"ecg-r1-{stage}").resolve()


def latest_checkpoint(path: str | Path) -> Path | None:
    """The model folder to start from: ``path`` itself when it holds a model (``config.json``),
    else its newest ``checkpoint-<step>`` folder at any depth (ms-swift writes
    ``<output_dir>/v<n>-<time>/checkpoint-<step>``); None when there is none."""
    path = Path(path)
    if (path / "config.json").is_file():
        return path
    found = [p for p in path.glob("**/checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()
             and (p / "config.json").is_file()]
    return max(found, key=lambda p: (p.stat().st_mtime, int(p.name.split("-")[-1])), default=None)


def _model_args(model: str, ecg_r1: Path | None) -> list[tuple[str, list[str]]]:
    groups = [("--model", [model])]
    if ecg_r1 is not None:
        groups += [("--model_type", ["ecg_r1"]), ("--template", ["ecg_r1"]),
                   ("--custom_register_path", [str(ecg_r1 / "ecg_r1" / "register.py")])]
    return groups


def _env(export: Export, ecg_r1: Path | None, gpus: int, extra_env: dict[str, str] | None) -> dict[str, str]:
    env = {"ROOT_IMAGE_DIR": str(export.image_root), "ROOT_ECG_DIR": str(export.ecg_root), **BASE_ENV}
    if gpus > 1:
        env["NPROC_PER_NODE"] = str(gpus)
    if ecg_r1 is not None:
        env.update(ECG_R1_ENV, ECG_TOWER_PATH=str(ecg_r1 / ECG_R1_ENV["ECG_TOWER_PATH"]))
    env.update({k: str(v) for k, v in (extra_env or {}).items()})
    return env


def _ecg_r1(ecg_r1_dir: str | Path | None) -> Path | None:
    if ecg_r1_dir is None:
        return None
    path = Path(ecg_r1_dir).expanduser().resolve()
    if not (path / "ecg_r1" / "register.py").is_file():
        raise ExportError(f"{path}: not an ECG-R1 checkout (no ecg_r1/register.py)")
    return path


def sft(export_dir: str | Path, *, model: str = DEFAULT_MODEL, output_dir: str | Path | None = None,
        ecg_r1_dir: str | Path | None = None, gpus: int = 1, train_file: str = SFT_FILE,
        extra_args: list[str] | tuple[str, ...] = (), extra_env: dict[str, str] | None = None) -> Command:
    """``swift sft`` on the export's training file (``train_file``, e.g. ``train_imd.jsonl`` for the
    offline Interleaved Modality Dropout copy) with ``val.jsonl`` as ``--val_dataset`` when it has rows."""
    export, ecg_r1 = load_export(export_dir), _ecg_r1(ecg_r1_dir)
    train = export.file(train_file, "sft")
    if export.rows(train_file) == 0:
        raise ExportError(f"{export.folder}: {train_file} has no rows")
    groups = [*_model_args(model, ecg_r1), ("--dataset", [str(train)])]
    notes = []
    if VAL_FILE in export.manifest["files"] and export.rows(VAL_FILE) > 0:
        groups.append(("--val_dataset", [str(export.file(VAL_FILE, "sft"))]))
    else:
        notes.append(f"{VAL_FILE} has no rows: no --val_dataset, no evaluation")
    groups += [(k, [v]) for k, v in SFT_ARGS.items()]
    if gpus > 1:
        groups.append(("--deepspeed", ["zero2"]))
    groups.append(("--output_dir", [str(Path(output_dir or default_output_dir("sft")).expanduser().resolve())]))
    env = _env(export, ecg_r1, gpus, {"PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True", **(extra_env or {})})
    return Command("sft", ["swift", "sft", *_merge(groups, extra_args)], env, str(ecg_r1) if ecg_r1 else None, notes)


def dapo(export_dir: str | Path, *, model: str | Path | None = None, output_dir: str | Path | None = None,
         ecg_r1_dir: str | Path | None = None, gpus: int = 1, extra_args: list[str] | tuple[str, ...] = (),
         extra_env: dict[str, str] | None = None) -> Command:
    """``swift rlhf --rlhf_type grpo`` as DAPO on the export's RL file, from the SFT checkpoint
    ``model`` (a model folder, an SFT output folder whose newest checkpoint is taken, or a hub id;
    default: the SFT stage's default output folder)."""
    export, ecg_r1 = load_export(export_dir), _ecg_r1(ecg_r1_dir)
    rl_name = export.rl_name
    rl = export.file(rl_name, "rl")
    if export.rows(rl_name) == 0:
        raise ExportError(f"{export.folder}: {rl_name} has no rows")
    notes = []
    model = str(model or default_output_dir("sft"))
    if Path(model).expanduser().is_dir():
        checkpoint = latest_checkpoint(Path(model).expanduser())
        if checkpoint is None:
            raise ExportError(f"{model}: no model (config.json) and no checkpoint-<step> folder in it")
        model = str(checkpoint.resolve())
    elif model.startswith(("/", ".", "~")) or model.count("/") != 1:  # a path, not a hub id "org/name"
        notes.append(f"{model} does not exist yet: train the SFT stage first")
    per_device = 4 if (4 * 2 * gpus) % NUM_GENERATIONS == 0 else 3
    groups = [("--rlhf_type", ["grpo"]), *_model_args(model, ecg_r1), ("--dataset", [str(rl)]),
              ("--external_plugins", [str(PLUGIN)]), ("--reward_funcs", list(SWIFT_REWARDS)),
              ("--reward_weights", [f"{w:g}" for w in WEIGHTS])]
    groups += [(k, [v]) for k, v in DAPO_ARGS.items() if k != "--rlhf_type"]
    groups.insert(groups.index(("--gradient_accumulation_steps", ["2"])),
                  ("--per_device_train_batch_size", [str(per_device)]))
    if gpus > 1:
        groups.append(("--deepspeed", ["zero2"]))
    groups.append(("--output_dir", [str(Path(output_dir or default_output_dir("dapo")).expanduser().resolve())]))
    env = _env(export, ecg_r1, gpus, extra_env)
    return Command("dapo", ["swift", "rlhf", *_merge(groups, extra_args)], env, str(ecg_r1) if ecg_r1 else None, notes)


def build(stage: str, export_dir: str | Path, **kwargs) -> Command:
    """:func:`sft` or :func:`dapo` by name (``model=None`` means the stage's default)."""
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}, not {stage!r}")
    if stage == "sft":
        kwargs["model"] = kwargs.get("model") or DEFAULT_MODEL
        return sft(export_dir, **kwargs)
    return dapo(export_dir, **kwargs)


def main(argv: list[str] | None = None) -> int:
    """``python -m training.launch --export DIR --stage sft|dapo [--dry-run] [-- EXTRA SWIFT ARGS]``:
    print the command and its environment, then (without ``--dry-run``) run it."""
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(prog="python -m training.launch", description=main.__doc__.split("\n")[0])
    parser.add_argument("--export", required=True, help="export folder (format swift) with manifest.json")
    parser.add_argument("--stage", choices=STAGES, default="sft")
    parser.add_argument("--model", help=f"SFT: base model (default {DEFAULT_MODEL}); dapo: the SFT checkpoint or "
                                        "output folder (default: the SFT stage's default output folder)")
    parser.add_argument("--output-dir", help="default: output/ecg-r1-<stage>")
    parser.add_argument("--ecg-r1-dir", help="an ECG-R1 checkout: its model registration and ECG tower")
    parser.add_argument("--gpus", type=int, default=1, help="GPUs of this node (NPROC_PER_NODE)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="set or override a variable of the command's environment (repeatable)")
    parser.add_argument("--dry-run", action="store_true", help="print the command and environment only")
    parser.add_argument("--json", action="store_true", help="print argv, env and cwd as JSON")
    args = parser.parse_args(argv)
    bad = [e for e in args.env if "=" not in e or e.startswith("=")]
    if bad:
        parser.error(f"--env takes KEY=VALUE, not {bad[0]!r}")
    try:
        cmd = build(args.stage, args.export, model=args.model, output_dir=args.output_dir,
                    ecg_r1_dir=args.ecg_r1_dir, gpus=args.gpus, extra_args=extra,
                    extra_env=dict(e.split("=", 1) for e in args.env))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(cmd.to_dict(), indent=1) if args.json else cmd.shell(), flush=True)
    if args.dry_run:
        return 0
    try:
        return subprocess.run(cmd.argv, env={**os.environ, **cmd.env}, cwd=cmd.cwd, check=False).returncode
    except FileNotFoundError:
        print(f"error: {cmd.argv[0]!r} not found: install ms-swift (or ECG-R1's fork) first", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main())
