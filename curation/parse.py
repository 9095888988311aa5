"""Parse a teacher response into ECG-R1's six-step interpretation, and its format checks.

The fixed format (docs/design.md "Interpretation format"): ``<think>``, the six bold step headings
of :data:`protocol.steps.STEPS` in order, each followed by one paragraph, ``</think>``, a
summary paragraph, ``<answer>label; label</answer>``. :func:`parse` reads what it can of a
response and lists every deviation as an :class:`Issue` (a stable code and a message a person
can act on), so a repair prompt can quote them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import BaseModel

from curation.phrases import Lexicon
from protocol.steps import STEP_BY_NUMBER, STEPS


@dataclass(frozen=True)
class Issue:
    """One reason a response is not accepted: ``code`` is stable, ``message`` is for people."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class StepText(BaseModel):
    number: int
    heading: str
    body: str


class Interpretation(BaseModel):
    """The parts of a response: steps by number (in the order written), summary, answer labels."""

    steps: list[StepText]
    summary: str
    answer: list[str]

    def step(self, number: int) -> str:
        """The body of step ``number`` ('' when it is missing)."""
        return next((s.body for s in self.steps if s.number == number), "")


_HEADING = re.compile(r"^\s*(?:\*\*|#+\s*)?\s*Step\s*(\d+)\s*[:.\-–—]?\s*(.*?)\s*(?:\*\*)?\s*$", re.IGNORECASE)
_LIST_ITEM = re.compile(r"^\s*(?:[-*•·]|\d+[.)])\s+")
#: code -> (phrases, message); found in the steps and the summary (curation/phrases.py lists).
_FORBIDDEN = {
    "mentions_source": (
        "the report|this report|a report|provided report|given report|attached report|original report|"
        "machine report|computer report|computerized report|automated report|ecg report|the prompt|this prompt|"
        "answer key|measurement table|measurements table|table of measurements|the table|provided table|"
        "reference label|reference labels|provided measurements|given measurements|supplied measurements|"
        "listed measurements|tabulated measurements|provided values|given values|provided data|given data|"
        "provided features|provided findings|given findings|provided labels|given labels|provided criteria|"
        "according to the table|according to the prompt|according to the labels|according to the measurements|"
        "according to the criteria|computer interpretation|machine interpretation|automated interpretation|"
        "supplied report|supplied data|data supplied|supplied values|values supplied|measurements supplied|"
        "supplied figures|figures supplied|figures provided|the printout|the print-out",
        "mentions {0!r}: write as a reader of the ECG, without naming a report, measurement table, prompt or "
        "answer key"),
    "missing_modality_claim": (
        "no image|no ecg image|no tracing|no waveform|no ecg signal|without the image|without an image|"
        "without the ecg image|without the tracing|without the waveform|without the signal|image is not provided|"
        "image was not provided|image is not available|images are not provided|tracing is not available|"
        "tracing was not provided|signal is not available|signal was not provided|waveform is not available|"
        "cannot see the image|cannot view the image|unable to see the image|unable to view the tracing|"
        "cannot access the image|cannot inspect the tracing|image not provided|missing image|missing tracing|"
        "image is missing|tracing is missing|signal is missing|image not supplied|no image supplied|"
        "image was not supplied|image is not supplied|tracing not supplied|tracing was not supplied|"
        "no tracing supplied|trace not supplied|trace not available|trace not provided|tracing unavailable|"
        "image unavailable|waveform unavailable|not been supplied with the tracing|not been supplied with the image",
        "claims that the ECG is missing ({0!r}): the signal and image are given with every sample"),
    "disclaimer": (
        "as an ai|ai model|language model|consult a physician|consult a doctor|consult a cardiologist|"
        "consult your physician|consult your doctor|consult with a physician|consult with a cardiologist|"
        "consult a healthcare professional|consult a healthcare provider|healthcare provider|medical advice|"
        "medical professional|should be consulted|please consult|i am not a doctor|i am not a physician|"
        "clinical correlation is recommended|clinical correlation is advised|clinical correlation is required|"
        "clinical correlation recommended|for informational purposes|for educational purposes",
        "disclaimer {0!r}: state the interpretation only"),
}
_LEXICON = Lexicon({code: phrases for code, (phrases, _) in _FORBIDDEN.items()})


def parse(text: str) -> tuple[Interpretation | None, list[Issue]]:
    """The interpretation (``None`` when the ``<think>`` block or the answer cannot be found)
    and every format issue, in reading order."""
    issues: list[Issue] = []
    text = (text or "").strip()
    think_open, think_close = text.find("<think>"), text.find("</think>")
    if think_open < 0:
        return None, [Issue("missing_think", "the response has no <think> block; start with <think> and the six steps")]
    if think_close < 0:
        return None, [Issue("unclosed_think", "<think> is never closed; end the six steps with </think>")]
    if text[:think_open].strip():
        issues.append(Issue("text_outside", f"text before <think>: {_clip(text[:think_open])!r}"))
    steps = _steps(text[think_open + len("<think>"):think_close], issues)
    rest = text[think_close + len("</think>"):]
    opening = rest.find("<answer>")
    closing = rest.find("</answer>", opening) if opening >= 0 else -1
    if closing < 0:
        issues.append(Issue("missing_answer", "no <answer>...</answer> after the summary; end with "
                                              "<answer>label; label</answer>"))
        summary, labels = rest.replace("<answer>", "").strip(), []
    else:
        summary = rest[:opening].strip()
        labels = [x.strip() for x in rest[opening + len("<answer>"):closing].split(";") if x.strip()]
        if not labels:
            issues.append(Issue("empty_answer", "<answer> is empty; list the diagnoses separated by ';'"))
        after = rest[closing + len("</answer>"):]
        if after.strip():
            issues.append(Issue("text_outside", f"text after </answer>: {_clip(after)!r}"))
    if not summary:
        issues.append(Issue("empty_summary", "no summary paragraph between </think> and <answer>"))
    elif "\n" in summary.strip():
        issues.append(Issue("line_break_in_summary", "the summary spans several lines; write one paragraph"))
    interpretation = Interpretation(steps=steps, summary=summary, answer=labels)
    issues += content_issues(interpretation)
    return interpretation, issues


def _steps(think: str, issues: list[Issue]) -> list[StepText]:
    """Steps from the lines of the think block; heading, order and body issues go to ``issues``."""
    found: list[tuple[int, str, list[str]]] = []
    preamble: list[str] = []
    for line in think.strip().splitlines():
        m = _HEADING.match(line)
        if m and m.group(1).isdigit() and (line.lstrip().startswith(("**", "#")) or m.group(2)):
            found.append((int(m.group(1)), line.strip(), []))
        elif found:
            found[-1][2].append(line)
        elif line.strip():
            preamble.append(line)
    if preamble:
        issues.append(Issue("text_outside", f"text inside <think> before Step 1: {_clip(' '.join(preamble))!r}"))
    seen: set[int] = set()
    steps = []
    for number, line, body_lines in found:
        expected = STEP_BY_NUMBER.get(number)
        if expected is None:
            issues.append(Issue("unknown_step", f"{line!r} is not one of the six steps"))
            continue
        if line != f"**{expected.heading}**":
            issues.append(Issue("misspelt_heading", f"{line!r} should read **{expected.heading}**"))
        if number in seen:
            issues.append(Issue("duplicate_step", f"Step {number} ({_title(number)}) appears more than once"))
        elif seen and number < max(seen):
            issues.append(Issue("step_order", f"Step {number} ({_title(number)}) comes after Step {max(seen)}; "
                                              "keep the steps in order 1 to 6"))
        seen.add(number)
        lines = [ln for ln in body_lines if ln.strip()]
        body = " ".join(ln.strip() for ln in lines)
        if not body:
            issues.append(Issue("empty_step", f"Step {number} ({_title(number)}) has no text"))
        elif any(_LIST_ITEM.match(ln) for ln in lines):
            issues.append(Issue("list_in_step", f"Step {number} ({_title(number)}) contains a bullet or numbered "
                                                "list; write one paragraph"))
        elif len(lines) > 1:
            issues.append(Issue("line_break_in_step", f"Step {number} ({_title(number)}) spans {len(lines)} lines; "
                                                      "write one paragraph"))
        steps.append(StepText(number=number, heading=expected.heading, body=body))
    for s in STEPS:
        if s.number not in seen:
            issues.append(Issue("missing_step", f"Step {s.number} ({_title(s.number)}) is missing"))
    return steps


def content_issues(interpretation: Interpretation) -> list[Issue]:
    """Mentions of a report, table, prompt or answer key; claims of a missing ECG; disclaimers."""
    text = "\n".join([s.body for s in interpretation.steps] + [interpretation.summary])
    found = _LEXICON.scan(text.lower()).spans
    return [Issue(code, message.format(text[found[code][0][0]:found[code][0][1]]))
            for code, (_, message) in _FORBIDDEN.items() if code in found]


def _title(number: int) -> str:
    return STEP_BY_NUMBER[number].heading.split(": ", 1)[1]


def _clip(s: str, n: int = 60) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 3] + "..."
