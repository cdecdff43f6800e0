"""The user's side of the round trip (augmath.publish.roundtrip), run in a fresh process.

Its HF_ENDPOINT names the local olah server, so huggingface_hub, datasets and transformers read it exactly as
they read the Hub.

    python -m augmath.publish.roundtrip_client SPEC.json REPORT.json

SPEC.json: {"snippet": the README snippet with this experiment's repo ids, "pushes": [{"plan": push.json,
"staged": folder}]}. REPORT.json: {"snippet_output", "checked": [...], "problems": [...]}, one line per check.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import traceback
from pathlib import Path

from augmath.io import sha256_file


TEXT_SUFFIXES = (".json", ".jsonl", ".md", ".yaml", ".yml", ".txt", ".log", ".html", ".csv", ".jinja")


def _files_match(plan: dict, revision: str, local: list[str], problems: list, checked: list) -> None:
    """Every file of the repo at `revision` is a staged file with the same bytes, none is missing, and no text
    file names a local path of the machine that made it (`local`: the experiment's folders, home, the checkout)."""
    from huggingface_hub import HfApi, hf_hub_download

    repo, repo_type = plan["repo_id"], plan["repo_type"]
    served = sorted(HfApi().list_repo_files(repo, repo_type=repo_type, revision=revision))
    staged = sorted(f["path"] for f in plan["files"])
    if served != staged:
        problems.append(f"{repo}@{revision}: files served {sorted(set(served) ^ set(staged))[:5]} differ from staged")
        return
    for f in plan["files"]:
        path = Path(hf_hub_download(repo, f["path"], repo_type=repo_type, revision=revision))
        got = sha256_file(path)
        if got != f["sha256"]:
            problems.append(f"{repo}@{revision}/{f['path']}: sha256 {got[:12]} != staged {f['sha256'][:12]}")
        if path.suffix in TEXT_SUFFIXES:
            text = path.read_text(encoding="utf-8", errors="replace")
            for where in local:
                if where in text:
                    problems.append(f"{repo}@{revision}/{f['path']}: names the local path {where}")
                    break
    checked.append(f"{repo}@{revision}: {len(staged)} files byte-equal to the staged upload")


def _dataset(plan: dict, staged: Path, problems: list, checked: list) -> None:
    from datasets import get_dataset_config_names, load_dataset

    manifest = json.loads((staged / "manifest.json").read_text(encoding="utf-8"))
    repo, tag = plan["repo_id"], plan["tag"]
    names = get_dataset_config_names(repo, revision=tag)
    if sorted(names) != sorted(manifest["configs"]):
        problems.append(f"{repo}@{tag}: configs {sorted(names)} != manifest {sorted(manifest['configs'])}")
    for config, info in manifest["configs"].items():
        rows = load_dataset(repo, config, split="train", revision=tag).num_rows
        if rows != info["rows"]:
            problems.append(f"{repo}@{tag} {config}: {rows} rows, the build wrote {info['rows']}")
    checked.append(f"{repo}@{tag}: {len(manifest['configs'])} configs load with the build's row counts")


def _model(plan: dict, staged: Path, problems: list, checked: list) -> None:
    """The model through the Hub protocol computes what the staged folder computes (same logits, bit for bit)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    repo = plan["repo_id"]
    tokenizer = AutoTokenizer.from_pretrained(repo)
    ids = tokenizer("Natalia sold clips to 48 of her friends in April.", return_tensors="pt").input_ids
    logits = []
    for source in (repo, str(staged)):
        model = AutoModelForCausalLM.from_pretrained(source, dtype="auto").eval()
        with torch.no_grad():
            logits.append(model(ids).logits)
    if logits[0].dtype != logits[1].dtype or not torch.equal(logits[0], logits[1]):
        problems.append(f"{repo}: one forward pass differs from the staged folder's "
                        f"(max |diff| {(logits[0].float() - logits[1].float()).abs().max().item():.3g})")
    checked.append(f"{repo}: loads by repo id; a forward pass equals the staged folder's ({logits[0].dtype})")


def _results(plan: dict, problems: list, checked: list) -> None:
    """results.json through hf_hub_download, and every repo id it names resolvable on the same server."""
    from huggingface_hub import HfApi, hf_hub_download

    index = json.loads(Path(hf_hub_download(plan["repo_id"], "results.json", repo_type="dataset")).read_text())
    published = index.get("published") or {}
    named = [(published.get("dataset"), "dataset")] + [(m, "model") for m in (published.get("models") or {}).values()]
    api = HfApi()
    for ref, repo_type in named:
        if not ref:
            problems.append(f"{plan['repo_id']}/results.json names no {repo_type} repo")
            continue
        repo, _, revision = ref.partition("@")
        try:
            api.repo_info(repo, repo_type=repo_type, revision=revision or "main")  # olah needs revision=
        except Exception as e:  # noqa: BLE001 - the message says which repo did not resolve
            problems.append(f"{plan['repo_id']}/results.json names {ref} ({repo_type}), which does not resolve: "
                            f"{type(e).__name__}")
    checked.append(f"{plan['repo_id']}: results.json read by hf_hub_download; the {len(named)} repo ids it names "
                   "resolve")


def main(spec_path: str, report_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    problems, checked, out = [], [], io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(spec["snippet"], "README.md (Using the published artifacts)", "exec"), {"__name__": "snippet"})
        checked.append("README snippet ran unchanged (repo ids bound to this experiment's)")
    except Exception:  # noqa: BLE001 - a failing snippet is a finding, reported with its traceback
        problems.append("README snippet failed: " + traceback.format_exc(limit=3).strip().replace("\n", " | "))
    for push in spec["pushes"]:
        plan, staged = push["plan"], Path(push["staged"])
        steps = [lambda: _files_match(plan, plan.get("tag") or "main", spec["local_paths"], problems, checked)]
        if plan["kind"] == "dataset":
            steps.append(lambda: _dataset(plan, staged, problems, checked))
        elif plan["kind"] == "model":
            steps.append(lambda: _model(plan, staged, problems, checked))
        else:
            steps.append(lambda: _results(plan, problems, checked))
        for step in steps:
            try:
                step()
            except Exception as e:  # noqa: BLE001 - one failing check must not hide the others
                problems.append(f"{plan['repo_id']}: {type(e).__name__}: {str(e)[:300]}")
    Path(report_path).write_text(json.dumps({"snippet_output": out.getvalue(), "checked": checked,
                                             "problems": problems}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
