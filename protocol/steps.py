"""The five-phase protocol of ECG-R1 and its six output steps (headings fixed by docs/design.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    number: int
    key: str  # evidence key in RL solutions
    heading: str  # the bold heading inside <think>
    phase: str  # the protocol phase it reports ("" for the synthesis step)
    evidence: str  # what its evidence phrases are about (the evidence prompt)


STEPS = (
    Step(1, "step_1_technical_rate_rhythm", "Step 1: Technical, Rate & Rhythm", "Rate & Rhythm",
         "quality, rate, rhythm, P waves"),
    Step(2, "step_2_conduction_axis_intervals", "Step 2: Conduction, Axis & Intervals", "Conduction, Axis & Intervals",
         "axis, PR, QRS, blocks"),
    Step(3, "step_3_chamber_hypertrophy_voltage", "Step 3: Chamber Hypertrophy & Voltage", "Hypertrophy & Voltage",
         "voltage, hypertrophy, R progression"),
    Step(4, "step_4_ischemia_infarction_mimics", "Step 4: Ischemia, Infarction & Mimics", "Ischemia, Infarction & Mimics",
         "ST, T, Q waves, mimics"),
    Step(5, "step_5_electrolytes_qt", "Step 5: Electrolytes & QT", "Electrolytes & QT", "QT, QTc, electrolytes"),
    Step(6, "step_6_final_medical_reasoning", "Step 6: Final Medical Reasoning", "", "the synthesis"),
)
STEP_BY_NUMBER = {s.number: s for s in STEPS}
