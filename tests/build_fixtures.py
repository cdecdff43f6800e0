"""Small, realistic augment run folders for the build / hub tests, made offline from real train seeds.

The seeds are the real GSM8K / MATH train items packaged with augmath. The augmented rows follow the strategies'
shapes: `reverse` is MetaMath/FOBAR backward reasoning (mask one number of the question as x; the masked number is
the answer, correct by construction); `numbers` / `complexity` rows pair a rewritten question with sampled paths.
Two reasoning paths per question, as the response-augmentation step writes them.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from augmath.sources import load

SAMPLING = json.dumps({"temperature": 0.7, "top_p": 0.95, "max_tokens": 512, "n": 2}, sort_keys=True)


def _prompt_hash(strategy: str) -> str:
    return hashlib.sha256(f"prompt-template/{strategy}/v1".encode()).hexdigest()[:16]


def _reverse(question: str, answer: str) -> tuple[str, str] | None:
    m = re.search(r"\b\d+\b", question)
    if m is None:
        return None
    masked = question[: m.start()] + "x" + question[m.end():]
    q = f"{masked} If we know the answer to the above question is {answer}, what is the value of unknown variable x?"
    return q, m.group(0)


def _numbers(question: str, answer: str) -> tuple[str, str] | None:
    nums = re.findall(r"\b\d+\b", question)
    if not nums:
        return None
    return re.sub(r"\b\d+\b", lambda m: str(int(m.group(0)) * 2), question, count=1), answer


def _complexity(question: str, answer: str) -> tuple[str, str]:
    return question + " Express your answer in simplest form and justify each step.", answer


STRATEGIES = {"reverse": _reverse, "numbers": _numbers, "complexity": _complexity}


def make_run(run_dir: Path, source: str, strategies: list[str], n_seeds: int, offset: int = 0,
             generator: str = "SmolLM2-135M-Instruct", paths: int = 2, data_dir: str = "packaged",
             round_number: int = 0, query_generator: str | None = None) -> list[dict]:
    """Write RUN_DIR/{run.json, items.jsonl, report.json} from n_seeds real train seeds; return the rows.
    `generator` writes the responses, `query_generator` (default: the same) the questions."""
    seeds = load(source, "train", data_dir=data_dir)[offset: offset + n_seeds]
    rows, dropped = [], 0
    for strategy in strategies:
        for seed in seeds:
            made = STRATEGIES[strategy](seed.question, seed.answer)
            if made is None:
                dropped += 1
                continue
            question, answer = made
            for k in range(paths):
                response = (f"{seed.solution}\nSo the answer is {answer}.\n#### {answer}" if source == "gsm8k"
                            else f"{seed.solution}\nThus the answer is $\\boxed{{{answer}}}$.")
                query_id = f"{seed.id}/{strategy}/{round_number}"
                rows.append({
                    "id": f"{query_id}/{k}", "query_id": query_id, "seed_id": seed.id, "source": source,
                    "strategy": strategy, "round": round_number, "question": question, "response": response,
                    "answer": answer, "generator": generator, "query_generator": query_generator or generator,
                    "response_generator": generator, "prompt_hash": _prompt_hash(strategy), "sampling": SAMPLING,
                    "path_index": k, "verification": "exact" if strategy == "reverse" else "majority_vote",
                    "verified": True, "agreement": 1.0 if strategy == "reverse" else 0.5 + 0.5 * (k == 0),
                })
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "run.json").write_text(json.dumps({
        "source": source, "strategies": strategies, "generator": generator, "sampling": json.loads(SAMPLING),
        "seeds": {"split": "train", "offset": offset, "count": n_seeds}}, indent=2) + "\n")
    with open(run_dir / "items.jsonl", "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    (run_dir / "report.json").write_text(json.dumps({
        "kept": len(rows), "dropped": {"total": dropped, "unparsable": dropped},
        "decontamination": {"checked": len(rows) // paths, "flagged": 0, "method": "13-gram + MiniLM cosine>=0.9",
                            "against": ["gsm8k/test", "math/test", "svamp/test"]}}, indent=2) + "\n")
    return rows
