"""TRL reward functions for ``GRPOTrainer(reward_funcs=[...])``: thin wrappers of :mod:`training.rewards`.

TRL calls each function with keywords: ``prompts``, ``completions`` (strings, or for a
conversational dataset lists of ``{"role", "content"}`` messages), ``completion_ids``,
``trainer_state`` and every other dataset column, here ``solution`` (the RL string of docs/design.md
"Training rows"). Each returns one float per completion and is logged under its ``__name__``
(``rewards/ecg_format/mean`` ...)::

    from trl import GRPOConfig, GRPOTrainer
    from training.trl_rewards import REWARD_FUNCS, REWARD_WEIGHTS

    trainer = GRPOTrainer(model=..., train_dataset=rl_rows, reward_funcs=REWARD_FUNCS,
                          args=GRPOConfig(reward_weights=REWARD_WEIGHTS, ...))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from training.rewards import WEIGHTS, accuracy_reward, evidence_reward, format_reward

__all__ = ["REWARD_FUNCS", "REWARD_WEIGHTS", "completion_text", "ecg_accuracy", "ecg_evidence", "ecg_format"]


def completion_text(completion: object) -> object:
    """The text of one completion as TRL passes it: a string as is; a conversational completion
    (a list of messages) as the content of its last assistant message (of its last message when
    no role is given), a content given as parts (``[{"type": "text", "text": ...}]``) joined;
    anything else is returned unchanged for the reward to score 0.0."""
    if isinstance(completion, dict):
        completion = [completion]
    if not isinstance(completion, (list, tuple)):
        return completion
    messages = [m for m in completion if isinstance(m, dict)]
    assistant = [m for m in messages if m.get("role", "assistant") == "assistant"]
    if not assistant:
        return None
    content = assistant[-1].get("content")
    if isinstance(content, (list, tuple)):
        return "".join(p.get("text") or "" for p in content if isinstance(p, dict) and p.get("type", "text") == "text")
    return content


def _scores(reward: Callable[[object, str], float], completions: Sequence, solution: Sequence[str] | None) -> list[float]:
    if solution is None:
        raise ValueError("no 'solution' column: the RL rows must carry the solution string (docs/design.md 'Training rows')")
    if isinstance(solution, str) or len(solution) != len(completions):
        raise ValueError(f"one solution per completion is needed: {len(completions)} completions, "
                         f"solution {'a string' if isinstance(solution, str) else f'of {len(solution)}'}")
    return [reward(completion_text(c), s) for c, s in zip(completions, solution)]


def ecg_format(prompts=None, completions=(), solution=None, **kwargs) -> list[float]:
    """:func:`training.rewards.format_reward` per completion."""
    return _scores(format_reward, completions, solution)


def ecg_accuracy(prompts=None, completions=(), solution=None, **kwargs) -> list[float]:
    """:func:`training.rewards.accuracy_reward` per completion."""
    return _scores(accuracy_reward, completions, solution)


def ecg_evidence(prompts=None, completions=(), solution=None, **kwargs) -> list[float]:
    """:func:`training.rewards.evidence_reward` per completion."""
    return _scores(evidence_reward, completions, solution)


#: The three rewards in the order of :data:`training.rewards.WEIGHTS`.
REWARD_FUNCS = [ecg_format, ecg_accuracy, ecg_evidence]
REWARD_WEIGHTS = list(WEIGHTS)
