"""TRL's GRPOTrainer on CPU for two steps: a tiny randomly initialised Llama, a character-level
tokenizer built in memory (nothing from a hub), our reward functions and RL rows of a TRL export
of the embedded sample. Needs the ``train`` extra (torch first, a CPU build; then
``pip install -e '.[train]'``); skipped without it."""

from __future__ import annotations

import functools
import json
import math
import string

import pytest

pytestmark = [pytest.mark.train, pytest.mark.slow,  # the pipeline fixture runs FeatureDB
              pytest.mark.filterwarnings("ignore::FutureWarning")]

_WHY = "the train extra is not installed (pip install torch, then pip install -e '.[train]')"
torch = pytest.importorskip("torch", reason=_WHY)
trl = pytest.importorskip("trl", reason=_WHY)
transformers = pytest.importorskip("transformers", reason=_WHY)
datasets = pytest.importorskip("datasets", reason=_WHY)
tokenizers = pytest.importorskip("tokenizers", reason=_WHY)

from stages.options import LLMOptions  # noqa: E402
from tests.runner import run  # noqa: E402
from training.trl_rewards import REWARD_FUNCS, REWARD_WEIGHTS  # noqa: E402
from warehouse import Warehouse  # noqa: E402

CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
SPECIAL = ["<pad>", "<unk>", "<|im_start|>", "<|im_end|>"]


@pytest.fixture(scope="module")
def grpo_rows(sample_ptbxl, sample_mimic, tmp_path_factory, pipeline) -> list[dict]:
    """The RL rows of a TRL export of the embedded sample (``prompt`` with typed content, ``solution``)."""
    root = tmp_path_factory.mktemp("trl")
    wh = Warehouse(root / "w")
    pipeline(wh, {"ptbxl": sample_ptbxl, "mimic": sample_mimic}, per_subject=False)  # every sample record
    rules = LLMOptions(backend="rules")  # the offline writer, whatever key the environment holds
    run("generate", wh, llm=rules)
    run("validate", wh, llm=rules)
    run("evidence", wh, llm=rules)
    run("export", wh, out=root / "trl", format="trl")
    rows = [json.loads(line) for line in (root / "trl" / "grpo_train.jsonl").read_text().splitlines()]
    assert len(rows) >= 2 and all(r["solution"] for r in rows)
    return rows


def text_prompt(prompt: list[dict]) -> list[dict]:
    """A conversational prompt for a text-only model: each turn's text parts joined, images dropped."""
    return [{"role": m["role"], "content": "".join(p.get("text", "") for p in m["content"] if p["type"] == "text")}
            for m in prompt]


def char_tokenizer(texts: list[str]):
    """A character-level fast tokenizer over printable ASCII and every character of ``texts``,
    with a ChatML-like chat template; built in memory."""
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    chars = sorted(set(string.printable) | set("".join(texts)))
    vocab = {tok: i for i, tok in enumerate(SPECIAL + [c for c in chars if c not in SPECIAL])}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.decoder = decoders.Fuse()
    tok.add_special_tokens(SPECIAL)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", bos_token="<|im_start|>",
                                   eos_token="<|im_end|>", chat_template=CHAT_TEMPLATE,
                                   model_input_names=["input_ids", "attention_mask"])


def test_grpo_two_steps_on_cpu_with_our_rewards(grpo_rows, tmp_path, monkeypatch):
    from datasets import Dataset
    from transformers import LlamaConfig, LlamaForCausalLM
    from trl import GRPOConfig, GRPOTrainer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("WANDB_DISABLED", "true")
    torch.manual_seed(0)
    prompts = [text_prompt(r["prompt"]) for r in grpo_rows]
    tokenizer = char_tokenizer([m["content"] for p in prompts for m in p] + [r["solution"] for r in grpo_rows])
    assert tokenizer.decode(tokenizer("<think>\nP 0.12 mV")["input_ids"]) == "<think>\nP 0.12 mV"
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=2048, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id))
    dataset = Dataset.from_list([{"prompt": p, "solution": r["solution"]} for p, r in zip(prompts, grpo_rows)])

    calls: dict[str, list[list[float]]] = {f.__name__: [] for f in REWARD_FUNCS}
    solutions = {r["solution"] for r in grpo_rows}

    def recorded(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            assert len(kwargs["solution"]) == len(kwargs["completions"])
            assert set(kwargs["solution"]) <= solutions  # the column reaches the rewards as exported
            out = func(*args, **kwargs)
            calls[func.__name__].append(out)
            return out
        return wrapper

    args = GRPOConfig(
        output_dir=str(tmp_path / "out"), max_steps=2, per_device_train_batch_size=2, gradient_accumulation_steps=1,
        num_generations=2, max_completion_length=24, learning_rate=1e-3, beta=0.0, epsilon_high=0.28,
        loss_type="dapo", reward_weights=REWARD_WEIGHTS, logging_steps=1, save_strategy="no", report_to="none",
        use_cpu=True, bf16=False, seed=0, dataloader_num_workers=0)
    trainer = GRPOTrainer(model=model, reward_funcs=[recorded(f) for f in REWARD_FUNCS], args=args,
                          train_dataset=dataset, processing_class=tokenizer)
    trainer.train()

    assert trainer.state.global_step == 2
    for name, batches in calls.items():
        assert len(batches) >= 2, f"{name} was called {len(batches)} times"
        values = [v for batch in batches for v in batch]
        assert values and all(isinstance(v, float) and math.isfinite(v) and 0.0 <= v <= 1.0 for v in values), name
    logged = [h for h in trainer.state.log_history if "loss" in h]
    assert len(logged) == 2 and all(math.isfinite(h["loss"]) for h in logged)
    assert all(math.isfinite(h[f"rewards/{name}/mean"]) for h in logged for name in calls)
