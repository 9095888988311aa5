"""training/rewards.py, its TRL wrappers and its ms-swift plugin, on the rules writer's PTB-XL texts.

Every accepted sample must score 1.0 on all three rewards against its own solution, with ours
and with ECG-R1's released semantics (``ecg_r1/plugin.py`` of PKUDigitalHealth/ECG-R1,
reimplemented in :class:`ECGR1` below); then each kind of corruption must lower the reward it
concerns and leave the others alone.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from curation.evidence import normalise, parse_solution, rules_phrases, solution
from curation.labels import concept, hedged
from curation.parse import parse
from protocol.steps import STEPS
from training import rewards as R
from training import trl_rewards as T

REPO = Path(__file__).resolve().parents[1]
KEY = {s.number: s.key for s in STEPS}


# --- ECG-R1's released rewards, as written in ecg_r1/plugin.py --------------------------------
class ECGR1:
    """ECG-R1's three ORMs (``FormatRewardORM``, ``DiagnosisAccuracyORM``,
    ``KeyDiagnosticEvidenceORM``), reimplemented from their semantics:

    - format: 1.0 when ``<think>(.*?)</think>`` (DOTALL) matches with non-empty content, else 0.0;
    - accuracy: the first ``<answer>(.*?)</answer>`` and the solution's ``<|answer|>...<|/answer|>``,
      stripped and lower-cased, split on ``;`` into sets of stripped non-empty strings, Jaccard
      (both empty 1.0, one empty 0.0);
    - evidence: the ``<think>`` block's steps by ``\\*\\*Step\\s+(\\d+).*?(\\*\\*|:|\\n)(.*?)(?=\\*\\*Step|\\Z)``
      (so a step's text starts after ``Step n`` at the first ``**``, ``:`` or line break: the
      heading's title is part of it), the solution's steps by
      ``(step_\\d+_[a-z_]+):\\s*(.*?)(?=\\s*step_\\d+|$)`` split on ``;``; for each step with
      phrases, the share found as case-insensitive substrings of the same step's text (0 when the
      step is missing), averaged over those steps; 0.0 when nothing parses or no step has phrases.
    """

    @staticmethod
    def format(completion: str) -> float:
        m = re.search(r"<think>(.*?)</think>", completion, re.DOTALL)
        return 1.0 if m and m.group(1).strip() else 0.0

    @staticmethod
    def accuracy(completion: str, sol: str) -> float:
        got = re.search(r"<answer>(.*?)</answer>", completion, re.DOTALL)
        ref = re.search(r"<\|answer\|>(.*?)<\|[/\\]answer\|>", sol, re.DOTALL)
        if not got or not ref:
            return 0.0
        a, b = ({x.strip() for x in m.group(1).strip().lower().split(";") if x.strip()} for m in (got, ref))
        if not a and not b:
            return 1.0
        return len(a & b) / len(a | b) if a and b else 0.0

    @staticmethod
    def evidence(completion: str, sol: str) -> float:
        think = re.search(r"<think>(.*?)</think>", completion, re.DOTALL | re.IGNORECASE)
        if not think:
            return 0.0
        m = re.search(r"<\|key_diagnostic_evidence\|>(.*?)<\|[/\\]key_diagnostic_evidence\|>", sol,
                      re.DOTALL | re.IGNORECASE)
        raw = m.group(1).strip() if m else sol.strip()
        steps = {}
        for number, _, text in re.findall(r"\*\*Step\s+(\d+).*?(\*\*|:|\n)(.*?)(?=\*\*Step|\Z)",
                                          think.group(1).strip(), re.DOTALL | re.IGNORECASE):
            if text.strip():
                steps[int(number)] = text.strip()
        ref = {k.lower(): [e.strip() for e in v.split(";") if e.strip()]
               for k, v in re.findall(r"(step_\d+_[a-z_]+):\s*(.*?)(?=\s*step_\d+|$)", raw, re.DOTALL | re.IGNORECASE)}
        if not steps or not ref:
            return 0.0
        shares = []
        for number, key in KEY.items():
            phrases = ref.get(key, [])
            if phrases:
                text = steps.get(number, "").lower()
                shares.append(sum(p.lower() in text for p in phrases) / len(phrases) if text else 0.0)
        return sum(shares) / len(shares) if shares else 0.0


def ours(text: str, sol: str) -> tuple[float, float, float]:
    return R.format_reward(text, sol), R.accuracy_reward(text, sol), R.evidence_reward(text, sol)


def theirs(text: str, sol: str) -> tuple[float, float, float]:
    return ECGR1.format(text), ECGR1.accuracy(text, sol), ECGR1.evidence(text, sol)


# --- the samples and text edits ---------------------------------------------------------------
@dataclass
class Sample:
    record: str
    text: str
    solution: str
    labels: list[str]
    evidence: dict[str, list[str]]

    def lines(self) -> list[str]:
        """``<think>``, six (heading, body) line pairs, ``</think>``, summary, answer line."""
        lines = self.text.split("\n")
        assert len(lines) == 16 and lines[0] == "<think>" and lines[13] == "</think>", self.text
        return lines

    def body_line(self, number: int) -> int:
        return 2 * number

    def with_body(self, number: int, body: str) -> str:
        lines = self.lines()
        lines[self.body_line(number)] = body
        return "\n".join(lines)

    def with_answer(self, labels: list[str]) -> str:
        lines = self.lines()
        lines[15] = f"<answer>{'; '.join(labels)}</answer>"
        return "\n".join(lines)

    def body(self, number: int) -> str:
        return self.lines()[self.body_line(number)]


@pytest.fixture(scope="module")
def samples(ptbxl_records) -> list[Sample]:
    """Every PTB-XL sample record the rules writer answers, with its solution built as the
    pipeline builds it."""
    out = []
    for r in ptbxl_records:
        if r["text"] is None:
            continue
        interpretation, issues = parse(r["text"])
        assert interpretation is not None and not issues, issues
        evidence = rules_phrases(r["findings"], r["text"])
        sol = solution(interpretation.answer, evidence)
        out.append(Sample(r["features"]["record_id"], r["text"], sol, list(interpretation.answer), evidence))
    assert len(out) >= 200  # 257 of the 300 records; the rest are refused as discordant
    return out


def _delete(body: str, phrase: str) -> str:
    """``body`` without any case-insensitive occurrence of ``phrase``."""
    while phrase.lower() in body.lower():
        at = body.lower().index(phrase.lower())
        body = body[:at] + body[at + len(phrase):]
    return " ".join(body.split())


# --- clean samples --------------------------------------------------------------------------
@pytest.mark.slow
def test_every_sample_scores_one_on_its_own_solution_with_ours_and_with_ecg_r1(samples):
    for s in samples:
        assert ours(s.text, s.solution) == (1.0, 1.0, 1.0), s.record
        assert theirs(s.text, s.solution) == (1.0, 1.0, 1.0), s.record
        assert R.reward(s.text, s.solution) == 3.0
        assert R.reward(s.text, s.solution, weights=(0.5, 2.0, 0.0)) == 2.5


@pytest.mark.slow
def test_solution_round_trip_is_what_the_rewards_read(samples):
    for s in samples[:20]:
        labels, evidence = parse_solution(s.solution)
        assert labels == s.labels and evidence == {k: s.evidence.get(k, []) for k in KEY.values()}


# --- format ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_removed_heading_lowers_format_only(samples):
    seen_empty_step = 0
    for i, s in enumerate(samples):
        number = i % 6 + 1
        lines = s.lines()
        del lines[2 * number - 1]
        text = "\n".join(lines)
        fmt, acc, ev = ours(text, s.solution)
        assert 0.5 <= fmt < 1.0, s.record
        assert acc == 1.0
        if s.evidence.get(KEY[number]):
            # the step's text now reads as part of the step before: its phrases are not in their step
            assert ev < 1.0
        else:
            seen_empty_step += 1
            assert ev == 1.0, s.record
        assert ECGR1.format(text) == 1.0  # ECG-R1's format reward does not notice
    assert seen_empty_step > 0


@pytest.mark.slow
def test_reordered_steps_lower_format_only(samples):
    for i, s in enumerate(samples):
        k = i % 5 + 1  # swap steps k and k+1, each with its own body
        lines = s.lines()
        a, b = 2 * k - 1, 2 * k + 1
        lines[a:a + 2], lines[b:b + 2] = lines[b:b + 2], lines[a:a + 2]
        text = "\n".join(lines)
        fmt, acc, ev = ours(text, s.solution)
        assert 0.5 <= fmt < 1.0 and acc == 1.0 and ev == 1.0, s.record
        assert any(i.code == "step_order" for i in parse(text)[1])
        assert theirs(text, s.solution) == (1.0, 1.0, 1.0)  # ECG-R1 does not see the order


@pytest.mark.slow
def test_format_partial_credit(samples):
    s = samples[0]
    misspelt = s.text.replace("**Step 2: Conduction, Axis & Intervals**", "**Step 2: Conduction, Axis and Intervals**")
    assert R.format_reward(misspelt, s.solution) == 0.75
    two = misspelt.replace(f"\n{s.body(3)}\n", f"\n{s.body(3)}\nA second line.\n")
    assert R.format_reward(two, s.solution) == 0.625
    assert R.format_reward(s.text + "\nthanks", s.solution) == 0.75  # text after </answer>
    # broken structure: 0.0 (ECG-R1 pays 1.0 for any non-empty <think> block)
    no_answer = s.text.rsplit("\n", 1)[0]
    no_steps = "<think>\nI looked at it.\n</think>\nA summary.\n<answer>normal ECG</answer>"
    unclosed = s.text.replace("</think>", "")
    for text in (no_answer, no_steps, unclosed):
        assert R.format_reward(text, s.solution) == 0.0
    assert ECGR1.format(no_answer) == ECGR1.format(no_steps) == 1.0
    # a content issue of the parser (a disclaimer) is not a format issue
    disclaimer = s.with_body(6, s.body(6) + " Please consult a physician.")
    assert any(i.code == "disclaimer" for i in parse(disclaimer)[1])
    assert ours(disclaimer, s.solution) == (1.0, 1.0, 1.0)


# --- accuracy -------------------------------------------------------------------------------
OTHER_LABELS = ("atrial fibrillation", "complete left bundle branch block", "left ventricular hypertrophy")


@pytest.mark.slow
def test_a_swapped_or_dropped_label_lowers_accuracy_only(samples):
    dropped = 0
    for s in samples:
        reference = {concept(x) for x in s.labels}
        other = next(x for x in OTHER_LABELS if concept(x) not in reference)
        n = len(s.labels)
        swapped = s.with_answer([other, *s.labels[1:]])
        assert ours(swapped, s.solution) == (1.0, (n - 1) / (n + 1), 1.0), s.record
        if n >= 2:
            dropped += 1
            assert ours(s.with_answer(s.labels[:-1]), s.solution) == (1.0, (n - 1) / n, 1.0), s.record
    assert dropped > 0


SYNONYMS = {"NORM": "within normal limits", "SR": "normal sinus rhythm", "SBRAD": "rhythm: marked sinus bradycardia",
            "STACH": "rhythm: sinus tachycardia", "AFIB": "atrial fibrillation with rapid ventricular response"}


@pytest.mark.slow
def test_synonyms_case_and_order_keep_accuracy_where_ecg_r1_drops(samples):
    assert all(concept(text) == c for c, text in SYNONYMS.items())
    drops = 0
    for s in samples:
        reordered = s.with_answer([x.upper() for x in reversed(s.labels)])
        assert ours(reordered, s.solution) == (1.0, 1.0, 1.0)
        assert ECGR1.accuracy(reordered, s.solution) == 1.0  # ECG-R1 lower-cases and uses sets too
        renamed = [("Possible " if hedged(x) else "") + SYNONYMS.get(concept(x), concept(x)).swapcase()
                   for x in reversed(s.labels)]
        text = s.with_answer(renamed)
        assert ours(text, s.solution) == (1.0, 1.0, 1.0), s.record
        drops += ECGR1.accuracy(text, s.solution) < 1.0
    assert drops == len(samples)  # every sample, renamed, is a wrong diagnosis for ECG-R1


def test_unknown_labels_match_only_their_own_text():
    sol = solution(["Brugada pattern", "normal ECG"], {})
    text = "<think>\n**Step 1: Technical, Rate & Rhythm**\nx\n</think>\ns\n<answer>{}</answer>"
    assert concept("Brugada pattern") is None
    assert R.accuracy_reward(text.format("normal ecg;  BRUGADA   pattern."), sol) == 1.0
    assert R.accuracy_reward(text.format("normal ECG; Brugada"), sol) == 1 / 3
    assert R.accuracy_reward(text.format("NORM"), sol) == 0.5
    assert R.accuracy_reward(text.format(""), solution([], {})) == 1.0
    assert R.accuracy_reward("<think>x</think>\ns", sol) == 0.0  # no <answer>
    assert R.accuracy_reward("<answer>NORM; Brugada pattern</answer>", sol) == 1.0  # no <think>: format's concern


# --- evidence -------------------------------------------------------------------------------
def _steps_with_phrases(s: Sample) -> list[int]:
    return [n for n in KEY if s.evidence.get(KEY[n])]


@pytest.mark.slow
def test_a_deleted_or_moved_phrase_lowers_evidence_only(samples):
    for i, s in enumerate(samples):
        numbers = _steps_with_phrases(s)
        number = numbers[i % len(numbers)]
        phrase = s.evidence[KEY[number]][0]
        body = _delete(s.body(number), phrase)
        deleted = s.with_body(number, body)
        fmt, acc, ev = ours(deleted, s.solution)
        assert fmt == 1.0 and acc == 1.0 and ev < 1.0, (s.record, number, phrase)
        assert ECGR1.evidence(deleted, s.solution) < 1.0
        target = number % 6 + 1
        moved = Sample(s.record, deleted, s.solution, s.labels, s.evidence)
        moved_text = moved.with_body(target, f"{moved.body(target)} Also {phrase}.")
        assert normalise(phrase) in normalise(moved_text)
        assert ours(moved_text, s.solution) == (1.0, 1.0, ev), (s.record, number, phrase)


@pytest.mark.slow
def test_a_phrase_only_in_the_heading_scores_zero_with_ours(samples):
    tested = set()
    for s in samples:
        for step in STEPS:
            title = step.heading.split(": ", 1)[1]
            if normalise(title) in normalise(s.body(step.number)):
                continue
            sol = solution(s.labels, {step.key: [title]})
            assert R.evidence_reward(s.text, sol) == 0.0
            assert ECGR1.evidence(s.text, sol) == 1.0  # ECG-R1 searches the heading too
            written = s.with_body(step.number, f"{s.body(step.number)} {title.lower()}.")
            assert R.evidence_reward(written, sol) == 1.0
            tested.add(step.number)
    assert tested == set(KEY)


def test_units_and_whole_words():
    text = ("<think>\n" + "\n".join(f"**{s.heading}**\n{b}" for s, b in zip(STEPS, (
        "The rate is 47 beats per minute with an abnormal rhythm.", "The PR interval is 0.154 s.", "x", "x", "x", "x")))
            + "\n</think>\nSummary.\n<answer>normal ECG</answer>")
    sol = solution(["normal ECG"], {KEY[1]: ["47 bpm", "normal"], KEY[2]: ["154 ms"]})
    # per step then mean: step 1 finds 1 of 2 (not 'normal' inside 'abnormal'), step 2 1 of 1
    assert R.evidence_reward(text, sol) == pytest.approx((1 / 2 + 1) / 2)
    assert ECGR1.evidence(text, sol) == pytest.approx((1 / 2 + 0) / 2)  # a substring hit, two unit misses
    assert R.format_reward(text, sol) == 1.0


def test_evidence_averages_per_step_like_ecg_r1():
    text = ("<think>\n" + "\n".join(f"**{s.heading}**\n{b}" for s, b in zip(STEPS, (
        "a regular rhythm and a narrow QRS", "a normal axis", "x", "x", "x", "x")))
            + "\n</think>\nSummary.\n<answer>normal ECG</answer>")
    sol = solution(["normal ECG"], {KEY[1]: ["regular rhythm", "narrow QRS", "ST elevation"], KEY[2]: ["normal axis"]})
    assert R.evidence_reward(text, sol) == ECGR1.evidence(text, sol) == pytest.approx((2 / 3 + 1) / 2)
    assert R.evidence_reward(text, solution(["normal ECG"], {})) == 1.0  # nothing to find
    assert ECGR1.evidence(text, solution(["normal ECG"], {})) == 0.0
    missing_step = text.replace("**Step 2: Conduction, Axis & Intervals**\na normal axis\n", "")
    assert R.evidence_reward(missing_step, sol) == pytest.approx((2 / 3 + 0) / 2)


# --- robustness -----------------------------------------------------------------------------
GARBAGE = (None, "", "   ", "garbage", 5, 3.5, b"<think>x</think>", ["<think>"], {"content": "x"}, "<think>",
           "</think>", "<answer>normal ECG", "<think></think>", "<think>\n**Step 1**\n</think>",
           "<answer></answer></think><think>", "\x00" * 100, "**Step 1:" * 1000)


@pytest.mark.slow
@pytest.mark.parametrize("completion", GARBAGE, ids=range(len(GARBAGE)))
def test_any_completion_scores_without_raising(samples, completion):
    s = samples[0]
    assert ours(completion, s.solution) == (0.0, 0.0, 0.0)
    assert R.reward(completion, s.solution) == 0.0


@pytest.mark.slow
def test_degenerate_completions_are_fast(samples):
    s = samples[0]
    for text in ("<think>x</think>\n" + "<answer>" * 50_000, s.text.replace("<answer>", "<answer>" * 50_000, 1)
                 .replace("</answer>", ""), "<think>\n" + " " * 100_000 + "\n</think>", s.text * 50):
        start = time.perf_counter()
        scores = ours(text, s.solution)
        assert time.perf_counter() - start < 2.0
        assert all(0.0 <= x <= 1.0 for x in scores)


@pytest.mark.slow
@pytest.mark.parametrize("bad", [None, 5, "", "garbage", "<|answer|>a<|/answer|>",
                                 "<|answer|>a<|/answer|><|key_diagnostic_evidence|>step_1_x: p <|/key_diagnostic_evidence|>"])
def test_a_bad_solution_raises(samples, bad):
    for f in (R.format_reward, R.accuracy_reward, R.evidence_reward, R.reward):
        with pytest.raises(ValueError):
            f(samples[0].text, bad)


@pytest.mark.slow
@pytest.mark.parametrize("weights", [(1.0, 1.0), (1.0, -1.0, 1.0), (1.0, math.nan, 1.0), "abc", None])
def test_bad_weights_raise(samples, weights):
    with pytest.raises(ValueError):
        R.reward(samples[0].text, samples[0].solution, weights=weights)


# --- TRL ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_trl_wrappers_on_strings_and_conversations(samples):
    picked = samples[:6]
    texts = [s.text for s in picked]
    texts[1] = picked[1].with_answer(["atrial fibrillation"])
    texts[2] = "no tags at all"
    sols = [s.solution for s in picked]
    expected = [[f(t, sol) for t, sol in zip(texts, sols)]
                for f in (R.format_reward, R.accuracy_reward, R.evidence_reward)]
    conversational = [[{"role": "assistant", "content": t}] for t in texts]
    conversational[3] = [{"role": "assistant", "content": [{"type": "text", "text": texts[3][:40]},
                                                           {"type": "text", "text": texts[3][40:]}]}]
    prompts = [[{"role": "user", "content": "<ecg><image>\ninterpret"}]] * len(texts)
    for completions in (texts, conversational):
        got = [f(prompts=prompts, completions=completions, completion_ids=[[1]] * len(texts), trainer_state=None,
                 solution=sols, images=[None] * len(texts)) for f in T.REWARD_FUNCS]
        assert got == expected
    assert expected[1][1] < 1.0 and expected[0][2] == 0.0
    assert [f.__name__ for f in T.REWARD_FUNCS] == ["ecg_format", "ecg_accuracy", "ecg_evidence"]
    assert T.REWARD_WEIGHTS == list(R.WEIGHTS)
    odd = [[{"role": "user", "content": "hi"}], [], [{"role": "assistant", "content": None}], 7]
    assert T.ecg_format(completions=odd, solution=sols[:4]) == [0.0] * 4
    with pytest.raises(ValueError):
        T.ecg_format(completions=texts, solution=None)
    with pytest.raises(ValueError):
        T.ecg_accuracy(completions=texts, solution=sols[:2])


# --- ms-swift -------------------------------------------------------------------------------
_SWIFT_ORM = '''
class ORM:
    def __init__(self, args=None, **kwargs):
        self.args = args

    def __call__(self, **kwargs):
        raise NotImplementedError


orms = {"format": ORM}
'''

_LOAD = textwrap.dedent('''
    import importlib.util, inspect, json, sys
    # no project on the path: the plugin must put the repository root there itself
    sys.meta_path[:] = [f for f in sys.meta_path if "Editable" not in type(f).__name__
                        and "editable" not in getattr(f, "__module__", "")]
    sys.path[:] = [p for p in sys.path if p != {repo!r} and "__editable__" not in p]
    try:
        import training
        raise SystemExit("the project is importable before the plugin is loaded")
    except ImportError:
        pass
    spec = importlib.util.spec_from_file_location("swift_plugin", {plugin!r})
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from {where} import ORM, orms
    completions, solution = json.load(sys.stdin)
    out = {{"registry": sorted(orms)}}
    for name in ("ecg_format", "ecg_accuracy", "ecg_evidence"):
        cls = orms[name]
        assert issubclass(cls, ORM), name
        params = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "args", "kwargs")]
        orm = cls()  # as ms-swift builds it: keyword arguments only for named __init__ parameters
        out[name] = orm(completions, solution=solution, images=[None] * len(completions), trainer_state=None)
        out[name + "_init"] = params
    print(json.dumps(out))
''')


@pytest.mark.slow
@pytest.mark.parametrize("where", ["swift.rewards", "swift.plugin"])
def test_swift_plugin_registers_the_rewards(samples, tmp_path, where):
    """ms-swift is not installed: a minimal package of the real layout (``swift.rewards`` in
    ms-swift 4, ``swift.plugin`` in 3.x, each with ``ORM`` and ``orms``) stands in for it."""
    package = tmp_path.joinpath(*where.split("."))
    package.mkdir(parents=True)
    tmp_path.joinpath("swift", "__init__.py").write_text("")
    package.joinpath("__init__.py").write_text(_SWIFT_ORM)
    picked = samples[:3]
    completions = [picked[0].text, picked[1].with_answer(["atrial fibrillation"]), "garbage"]
    sols = [s.solution for s in picked]
    script = _LOAD.format(repo=str(REPO), plugin=str(REPO / "training" / "swift_plugin.py"), where=where)
    run = subprocess.run([sys.executable, "-c", script], input=json.dumps([completions, sols]), capture_output=True,
                         text=True, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
                         timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert {"format", "ecg_format", "ecg_accuracy", "ecg_evidence"} <= set(out["registry"])
    for name, f in (("ecg_format", R.format_reward), ("ecg_accuracy", R.accuracy_reward),
                    ("ecg_evidence", R.evidence_reward)):
        assert out[name] == [f(c, s) for c, s in zip(completions, sols)]
        assert out[name + "_init"] == []
    assert out["ecg_accuracy"][0] == 1.0 and out["ecg_accuracy"][1] < 1.0 and out["ecg_format"][2] == 0.0



def test_a_hedged_statement_scores_only_hedged():
    """The answer key's uncertain statements ("possible ...") are their own labels."""
    sol = solution(["possible inferior myocardial infarction", "sinus rhythm"], {})
    text = "<think>\n**Step 1: Technical, Rate & Rhythm**\nx\n</think>\ns\n<answer>{}</answer>"
    assert R.accuracy_reward(text.format("sinus rhythm; Possible inferior myocardial infarction"), sol) == 1.0
    assert R.accuracy_reward(text.format("sinus rhythm; probable IMI"), sol) == 1.0  # any marker of hedges.csv
    assert R.accuracy_reward(text.format("sinus rhythm; inferior myocardial infarction"), sol) == 1 / 3
