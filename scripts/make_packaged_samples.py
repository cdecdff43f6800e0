"""Rebuild the small MIT-licensed samples shipped in augmath/data/ from a full data folder.

    python scripts/make_packaged_samples.py ../shared/data

GSM8K: the first 200 train and test rows. MATH train: the first rows of each subject (200 in all).
MATH test: 200 MATH-500 items (so math, math500 and the demo agree). SVAMP: the first 200 items.
ASDiv (CC BY-NC) and MAWPS (licence unstated) are never shipped.
"""

import gzip
import json
import sys
from pathlib import Path

N = 200


def read(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f) if path.suffix == ".json" else [json.loads(line) for line in f if line.strip()]


def write(name: str, rows: list[dict]) -> None:
    out = Path(__file__).resolve().parents[1] / "augmath" / "data" / name
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{out}: {len(rows)} rows")


def main(root: Path) -> None:
    for split in ("train", "test"):
        rows = read(root / f"gsm8k/{split}.jsonl" if split == "test" else root / "gsm8k/train.jsonl.gz")
        write(f"gsm8k_{split}_sample.jsonl", [dict(r, index=i) for i, r in enumerate(rows[:N])])
    train = read(root / "math/train.jsonl.gz")
    subjects = sorted({r["unique_id"].split("/")[1] for r in train})
    per = -(-N // len(subjects))
    picked = [r for s in subjects for r in [x for x in train if x["unique_id"].split("/")[1] == s][:per]][:N]
    write("math_train_sample.jsonl", picked)
    m500 = read(root / "math/math500_test.jsonl")[:N]
    ids = {r["unique_id"] for r in m500}
    write("math500_test_sample.jsonl", m500)
    write("math_test_sample.jsonl", [r for r in read(root / "math/test.jsonl.gz") if r["unique_id"] in ids])
    write("svamp_test_sample.jsonl", read(root / "svamp/SVAMP.json")[:N])
    (Path(__file__).resolve().parents[1] / "augmath" / "data" / "README.md").write_text(
        "Samples (<=200 rows each) of GSM8K (MIT, openai/grade-school-math), MATH and MATH-500 (MIT,\n"
        "hendrycks/math, openai/prm800k) and SVAMP (MIT, arkilpatel/SVAMP), shipped so the demo runs offline.\n"
        "Rebuilt by scripts/make_packaged_samples.py. ASDiv and MAWPS are never shipped.\n")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data"))
