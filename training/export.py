"""Training rows in the layouts the trainers read as they are, and their checks.

ms-swift (ECG-R1's layout, docs/design.md "Training rows"): ``{"id", "messages": [system, user,
assistant], "images": [png], "objects": {"ecg": [wfdb record without extension]}}``, the user
turn ``<ecg><image>\\n`` + ECG-R1's instruction; RL rows end at the user turn and carry the
``solution``. TRL: ``messages`` (SFT) or ``prompt`` + ``solution`` (GRPO) with typed content
(``{"type": "image"}``), an ``images`` column and an ``ecg`` column. Paths are relative to the
manifest's ``image_root`` and ``ecg_root`` (ECG-R1's ``ROOT_IMAGE_DIR`` / ``ROOT_ECG_DIR``).

Also here: the seeded RL selection (stratified by label, evidence in at least four steps), the
modality-missing test sets and Interleaved-Modality-Dropout copies (ECG-R1, section 3.2), and
:func:`check`, which re-reads an export.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from curation.evidence import parse_solution

#: ECG-R1's released system prompt (``ecg_r1/system_prompt.txt``) and inference instruction.
SYSTEM = "You are a helpful, harmless clinical ECG assistant. Provide concise, evidence-based interpretations."
INSTRUCTION = ("Interpret the provided ECG image, identify key features and abnormalities in each lead, and "
               "generate a clinical diagnosis that is supported by the observed evidence.")
ECG_TAG, IMAGE_TAG = "<ecg>", "<image>"
FORMATS = ("swift", "trl")
MANIFEST = "manifest.json"  # beside the files: roots, counts, sha256 per file, versions
#: File names per format and kind (``sft`` per split, ``rl``); ``.jsonl`` added.
FILES = {"swift": {"sft": "{split}", "rl": "rl_train"}, "trl": {"sft": "sft_{split}", "rl": "grpo_train"}}
RL_PAPER_SIZE, SFT_PAPER_SIZE = 3948, 30000  # ECG-R1: |D_RL| for its 30k-sample SFT corpus
MIN_EVIDENCE_STEPS = 4
MISSING = {"ecg_missing25": ("ecg", 0.25), "ecg_missing100": ("ecg", 1.0),
           "image_missing25": ("image", 0.25), "image_missing100": ("image", 1.0)}


def swift_row(sample: dict, with_answer: bool = True) -> dict:
    """One ms-swift row; ``sample`` has id, image, ecg, interpretation and (RL) solution."""
    messages = [{"role": "system", "content": SYSTEM},
                {"role": "user", "content": f"{ECG_TAG}{IMAGE_TAG}\n{INSTRUCTION}"}]
    row = {"id": sample["id"], "messages": messages, "images": [sample["image"]], "objects": {"ecg": [sample["ecg"]]}}
    if with_answer:
        messages.append({"role": "assistant", "content": sample["interpretation"]})
    else:
        row["solution"] = sample["solution"]
    return row


def trl_row(sample: dict, with_answer: bool = True) -> dict:
    """One TRL row: conversational ``messages`` (SFT) or ``prompt`` and ``solution`` (GRPO)."""
    prompt = [{"role": "system", "content": [{"type": "text", "text": SYSTEM}]},
              {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": INSTRUCTION}]}]
    row = {"id": sample["id"], "images": [sample["image"]], "ecg": [sample["ecg"]]}
    if with_answer:
        row["messages"] = [*prompt, {"role": "assistant", "content": [{"type": "text", "text": sample["interpretation"]}]}]
    else:
        row.update(prompt=prompt, solution=sample["solution"])
    return row


ROWS = {"swift": swift_row, "trl": trl_row}


def rl_size(n_train: int, requested: int | None = None) -> int:
    """``requested``, or ECG-R1's 3,948 RL samples per 30,000 SFT samples, scaled to the corpus."""
    if requested is not None:
        return min(requested, n_train)
    return min(n_train, max(1 if n_train else 0, round(RL_PAPER_SIZE * n_train / SFT_PAPER_SIZE)))


def select_rl(samples: list[dict], size: int, seed: int) -> list[dict]:
    """A seeded, label-stratified selection of ``size`` training samples with evidence in at least
    :data:`MIN_EVIDENCE_STEPS` steps. Each sample's stratum is its rarest label (so rare labels
    are kept); strata are visited round-robin, rarest first, each in a seeded random order."""
    eligible = [s for s in samples if s["steps_with_evidence"] >= MIN_EVIDENCE_STEPS]
    counts: dict[str, int] = defaultdict(int)
    for s in eligible:
        for label in s["labels"] or ["(none)"]:
            counts[label] += 1
    strata: dict[str, list[dict]] = defaultdict(list)
    for s in sorted(eligible, key=lambda s: s["id"]):
        strata[min(s["labels"] or ["(none)"], key=lambda c: (counts[c], c))].append(s)
    rng = random.Random(seed)
    queues = []
    for label in sorted(strata, key=lambda c: (len(strata[c]), c)):
        rng.shuffle(strata[label])
        queues.append(strata[label])
    picked: list[dict] = []
    while len(picked) < size and any(queues):
        for q in queues:
            if q and len(picked) < size:
                picked.append(q.pop())
    return sorted(picked, key=lambda s: s["id"])


def drop_modality(row: dict, modality: str) -> dict:
    """The row without one modality: its tag removed from the user turn and its list emptied."""
    row = json.loads(json.dumps(row))
    tag = ECG_TAG if modality == "ecg" else IMAGE_TAG
    for m in row.get("messages") or row.get("prompt") or []:
        if m["role"] == "user":
            if isinstance(m["content"], str):
                m["content"] = m["content"].replace(tag, "", 1)
            elif modality == "image":
                m["content"] = [c for c in m["content"] if c.get("type") != "image"]
    if modality == "ecg":
        if "objects" in row:
            row["objects"]["ecg"] = []
        else:
            row["ecg"] = []
    else:
        row["images"] = []
    return row


def missing_set(rows: list[dict], modality: str, share: float, seed: int) -> list[dict]:
    """A modality-robustness test set: ``share`` of the rows (seeded) without ``modality``."""
    rng = random.Random(f"{seed}:{modality}:{share}")
    chosen = set(rng.sample(range(len(rows)), round(share * len(rows))))
    return [drop_modality(r, modality) if i in chosen else r for i, r in enumerate(rows)]


def imd_copy(rows: list[dict], drop: float, swap: float, seed: int) -> list[dict]:
    """Interleaved Modality Dropout (ECG-R1): each row loses one modality (ECG or image, equally
    likely) with probability ``drop``, and has its ``<ecg>``/``<image>`` order swapped with
    probability ``swap`` (ms-swift rows; TRL rows have no tag order)."""
    rng = random.Random(f"{seed}:imd")
    out = []
    for row in rows:
        if rng.random() < drop:
            row = drop_modality(row, rng.choice(("ecg", "image")))
        if rng.random() < swap and isinstance(row["messages"][1]["content"], str):
            row = json.loads(json.dumps(row))
            user = row["messages"][1]
            if user["content"].startswith(ECG_TAG + IMAGE_TAG):
                user["content"] = IMAGE_TAG + ECG_TAG + user["content"][len(ECG_TAG + IMAGE_TAG):]
        out.append(row)
    return out


def write_jsonl(path: Path, rows: Iterable[dict]) -> dict:
    """Write rows; returns ``{"rows": n, "sha256": ...}`` for the manifest."""
    path.parent.mkdir(parents=True, exist_ok=True)
    digest, n = hashlib.sha256(), 0
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            line = json.dumps(row, ensure_ascii=False) + "\n"
            fh.write(line)
            digest.update(line.encode("utf-8"))
            n += 1
    tmp.replace(path)
    return {"rows": n, "sha256": digest.hexdigest()}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- the check ----------------------------------------------------------------------------------

def check(folder: str | Path) -> list[str]:
    """Every problem of an export (``[]``: none): the manifest's hashes and counts, each row's JSON
    shape for its format, tags against media lists, every path resolving against the roots, every
    solution parsing, and no subject in two splits."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        return [f"manifest.json: {exc}"]
    fmt, problems = manifest.get("format"), []
    if fmt not in FORMATS:
        return [f"manifest.json: format {fmt!r} is not one of {', '.join(FORMATS)}"]
    roots = {k: Path(manifest[k]) for k in ("image_root", "ecg_root")}
    roots = {k: v if v.is_absolute() else folder / v for k, v in roots.items()}
    subjects = manifest.get("subjects", {})
    for name, meta in manifest.get("files", {}).items():
        path = folder / name
        if not path.exists():
            problems.append(f"{name}: listed in the manifest but missing")
            continue
        if sha256_file(path) != meta["sha256"]:
            problems.append(f"{name}: sha256 differs from the manifest")
        rows = path.read_text(encoding="utf-8").splitlines()
        if len(rows) != meta["rows"]:
            problems.append(f"{name}: {len(rows)} rows, the manifest says {meta['rows']}")
        for i, line in enumerate(rows, 1):
            problems += [f"{name}:{i}: {p}" for p in _row_problems(line, fmt, roots, meta.get("kind", "sft"))]
    seen: dict[str, str] = {}
    for sample, (split, subject) in subjects.items():
        if seen.setdefault(subject, split) != split:
            problems.append(f"subject {subject[:12]} is in {seen[subject]} and {split} (sample {sample})")
    return problems


def _row_problems(line: str, fmt: str, roots: dict[str, Path], kind: str) -> list[str]:
    try:
        row = json.loads(line)
    except ValueError as exc:
        return [f"not JSON: {exc}"]
    images, ecgs = row.get("images"), (row.get("objects") or {}).get("ecg") if fmt == "swift" else row.get("ecg")
    if not isinstance(row.get("id"), str) or not isinstance(images, list) or not isinstance(ecgs, list):
        return ["needs id, images and the ECG list"]
    problems = []
    turns = row.get("messages") if kind != "rl" or fmt == "swift" else row.get("prompt")
    roles = [m.get("role") for m in turns or []]
    expected = ["system", "user"] + (["assistant"] if kind != "rl" else [])
    if roles != expected:
        return [f"turns {roles}, expected {expected}"]
    user = turns[1]["content"]
    if fmt == "swift":
        n_image, n_ecg = user.count(IMAGE_TAG), user.count(ECG_TAG)
    else:
        n_image, n_ecg = sum(c.get("type") == "image" for c in user), len(ecgs)
    if (n_image, n_ecg) != (len(images), len(ecgs)):
        problems.append(f"{n_image} image and {n_ecg} ECG tags for {len(images)} images and {len(ecgs)} ECGs")
    problems += [f"image not found: {p}" for p in images if not (roots["image_root"] / p).is_file()]
    problems += [f"ECG record not found: {p}" for p in ecgs if not (roots["ecg_root"] / f"{p}.hea").is_file()]
    if kind == "rl":
        try:
            parse_solution(row.get("solution") or "")
        except ValueError as exc:
            problems.append(f"solution does not parse: {exc}")
    return problems
