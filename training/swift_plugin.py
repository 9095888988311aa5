"""ms-swift ORM plugin: ECG-R1's three rewards as :mod:`training.rewards` computes them.

Load it as a file and name the rewards::

    swift rlhf --rlhf_type grpo --external_plugins training/swift_plugin.py \\
        --reward_funcs ecg_format ecg_accuracy ecg_evidence --reward_weights 1 1 1 ...

ms-swift 4 keeps ``ORM`` and the ``orms`` registry in ``swift.rewards``, ms-swift 3.x in
``swift.plugin`` (where ECG-R1's own ``ecg_r1/plugin.py`` imports them); both are tried. ms-swift
calls each ORM as ``orm(completions, **columns)``: ``completions`` are the generated texts and
``solution`` is the RL rows' column. The logic lives in :mod:`training.rewards` (tested there);
this file only adapts it, so it puts the repository root on ``sys.path`` itself (ms-swift imports
it by file path, not as part of this project).
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

try:  # ms-swift 4
    from swift.rewards import ORM, orms
except ImportError:  # ms-swift 3.x
    from swift.plugin import ORM, orms

from training import rewards  # after the sys.path line above

if Path(rewards.__file__).resolve().parents[1] != _ROOT:
    raise ImportError(f"'training.rewards' was imported from {rewards.__file__}, not from {_ROOT}; another "
                      "top-level 'training' package shadows this repository's")


class _ECGReward(ORM):
    """One reward of :mod:`training.rewards` per (completion, solution) pair."""

    reward = staticmethod(rewards.format_reward)

    def __call__(self, completions, solution=None, **kwargs) -> list[float]:
        if solution is None:
            raise ValueError("no 'solution' column: the RL rows must carry the solution string")
        if isinstance(solution, str) or len(solution) != len(completions):
            raise ValueError(f"one solution per completion is needed ({len(completions)} completions)")
        return [self.reward(c, s) for c, s in zip(completions, solution)]


class ECGFormatReward(_ECGReward):
    reward = staticmethod(rewards.format_reward)


class ECGAccuracyReward(_ECGReward):
    reward = staticmethod(rewards.accuracy_reward)


class ECGEvidenceReward(_ECGReward):
    reward = staticmethod(rewards.evidence_reward)


orms["ecg_format"] = ECGFormatReward
orms["ecg_accuracy"] = ECGAccuracyReward
orms["ecg_evidence"] = ECGEvidenceReward
