"""`augmath push`: publish a dataset, model or results folder to the Hugging Face Hub.

One path for every folder kind: `create_repo` (exist_ok), refuse a version tag that already exists,
`upload_folder` (one commit with a message; stale data files of an older version deleted in the same commit),
then `create_tag` on that commit. `--dry-run` prints exactly the files `upload_folder` would send, where, and
what would be tagged, without touching the network.

A model folder is uploaded from a staged copy (augmath.publish.staging): its card re-rendered under the repo id it is
pushed as, its weights in `--dtype`, a LoRA adapter's base named by Hub id. So is a results folder: each evaluation
names its model by the repo it was published as, lighteval's raw working output stays local. `--stage DIR` keeps that copy for any folder kind: DIR/repo holds exactly
the files the push sends and DIR/push.json the plan (repo, commit message, tag, files), which is how the
experiment runner's dry runs leave every card and commit message to read. Commit messages say
`augmath: <artifact> <name> <version> (<key numbers>)` and never name a local path.

The token comes from $HF_TOKEN or the user's `hf auth login`; huggingface_hub reads it itself. It is never
printed, logged or written: the dry run names only its source, and every error is scrubbed before it is shown.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub.utils import DEFAULT_IGNORE_PATTERNS, filter_repo_objects

from augmath.cards import REPO_ID_RE
from augmath.errors import UserError
from augmath.io import DataError, read_json, release_temp_folder, sha256_file, temp_folder, write_json_atomic
from augmath.redaction import redact, secrets_in_folder
from augmath.publish.staging import DTYPES, StagingError, commit_message, stage_folder
# Hidden files are temp files of an interrupted atomic write or tool caches, never part of a published folder.
IGNORE_PATTERNS = [".*", "*/.*", "__pycache__/*", "*/__pycache__/*"]
# Remote files under these folders that the new version no longer has are deleted in the same commit, so a
# config dropped in version 2 does not linger on the Hub.
DELETE_PATTERNS = {"dataset": ["data/**", "runs/**"], "results": ["details/**"], "model": None}
# Training checkpoints (accelerate save_state: optimizer states, several times the model) stay local.
KIND_IGNORE = {"dataset": [], "results": [], "model": ["checkpoints/*"]}


class PushError(UserError, RuntimeError):
    """A push that cannot or did not happen; the message never contains a secret."""


@dataclass(frozen=True)
class PushPlan:
    folder: Path  # what is uploaded: the source folder, or its staged copy
    kind: str  # "dataset" | "model" | "results"
    repo_type: str  # "dataset" | "model" (results folders are dataset repos)
    repo_id: str
    revision: str | None
    private: bool
    message: str
    tag: str | None
    files: tuple[tuple[str, int, str], ...]  # (path in repo, bytes, sha256), in upload order
    source: Path | None = None  # the folder as written by build / train / the report, when `folder` is a staged copy
    temporary: bool = False  # `folder` is a staged copy to delete once pushed
    weights: dict | None = None  # model folders: {"dtype", "cast_from"}

    @property
    def delete_patterns(self) -> list[str] | None:
        return DELETE_PATTERNS[self.kind]

    @property
    def ignore_patterns(self) -> list[str]:
        return IGNORE_PATTERNS + KIND_IGNORE[self.kind]


def folder_kind(folder: Path) -> str:
    if (folder / "manifest.json").is_file() and _load(folder / "manifest.json").get("kind") == "dataset":
        return "dataset"
    if (folder / "results.json").is_file():
        return "results"
    if (folder / "augmath_train.json").is_file() or (folder / "config.json").is_file():
        return "model"
    raise PushError(f"{folder} is not a dataset, model or results folder (no manifest.json from `augmath build`, "
                    "results.json, augmath_train.json or config.json)")


def _load(path: Path) -> dict:
    """A manifest or train record; invalid JSON is a PushError naming file and line (augmath.io.read_json)."""
    try:
        obj = read_json(path)
    except DataError as e:
        raise PushError(str(e)) from None
    return obj if isinstance(obj, dict) else {}


def upload_list(folder: Path, ignore_patterns: list[str]) -> list[str]:
    """The relative paths `upload_folder(ignore_patterns=...)` sends, in its order (same listing, same filter)."""
    paths = [p.relative_to(folder).as_posix() for p in sorted(folder.glob("**/*")) if p.is_file()]
    return list(filter_repo_objects(paths, ignore_patterns=ignore_patterns + DEFAULT_IGNORE_PATTERNS))


def verify_dataset(folder: Path, files: list[str]) -> dict:
    """A dataset folder must be exactly what `augmath build` wrote: every file listed, every hash matching."""
    manifest = _load(folder / "manifest.json")
    listed = manifest.get("files", {})
    extra = sorted(set(files) - set(listed) - {"manifest.json"})
    missing = sorted(set(listed) - set(files))
    if extra or missing:
        raise PushError(f"{folder} does not match its manifest.json (extra: {extra[:3]}, missing: {missing[:3]}); "
                        "rebuild it with `augmath build`")
    for rel, info in listed.items():
        if sha256_file(folder / rel) != info.get("sha256"):
            raise PushError(f"{folder / rel} changed since it was built (sha256 differs from manifest.json); "
                            "rebuild it with `augmath build`")
    return manifest


def plan_push(folder: str | os.PathLike, repo_id: str, revision: str | None = None, private: bool = False,
              message: str | None = None, tag: str | None = None, dtype: str = "auto",
              stage: str | os.PathLike | None = None) -> PushPlan:
    """What a push would do. Model folders (and any folder given `stage`) are staged first: see the module doc."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PushError(f"{folder}: no such folder")
    if not REPO_ID_RE.match(repo_id):
        raise PushError(f"--repo-id {repo_id!r} is not ORG/NAME")
    kind = folder_kind(folder)
    if dtype != "auto" and kind != "model":
        raise PushError(f"--dtype is for model folders; {folder} is a {kind} folder")
    files = upload_list(folder, IGNORE_PATTERNS + KIND_IGNORE[kind])
    if kind == "dataset":
        manifest = verify_dataset(folder, files)
        tag = tag or f"v{manifest['version']}"
        if manifest.get("repo_id") not in (None, repo_id):
            raise PushError(f"{folder} was built for {manifest['repo_id']} (its card loads it from there), not "
                            f"{repo_id}: push it there, or rebuild with --repo-id {repo_id}")
    for rel, found in secrets_in_folder(folder, files):  # e.g. a run.json with a key inside its base_url
        raise PushError(f"{folder / rel} contains {' and '.join(found)}; refusing to publish it")
    upload, temporary, weights = folder, False, None
    if stage is not None or kind in ("model", "results"):  # results: evaluations named by repo, no local paths
        temporary = stage is None
        dest = _scratch(folder) if temporary else Path(stage) / "repo"
        try:
            staged = stage_folder(folder, kind, repo_id, dest, files, dtype)
        except (StagingError, DataError, OSError) as e:
            if temporary:
                release_temp_folder(dest)
            raise PushError(f"staging {folder} for {repo_id}: {e}") from None
        upload, weights = staged.path, staged.weights
        files = upload_list(upload, IGNORE_PATTERNS + KIND_IGNORE[kind])
    entries = tuple((rel, (upload / rel).stat().st_size, sha256_file(upload / rel)) for rel in files)
    message = message or commit_message(kind, upload, repo_id, tag, weights)
    plan = PushPlan(folder=upload, kind=kind, repo_type="model" if kind == "model" else "dataset", repo_id=repo_id,
                    revision=revision, private=private, message=message, tag=tag, files=entries,
                    source=folder if upload != folder else None, temporary=temporary, weights=weights)
    if stage is not None:
        write_json_atomic(Path(stage) / "push.json", plan_record(plan))
    return plan


def _scratch(folder: Path) -> Path:
    """A hidden folder beside `folder` for a temporary staged copy (same filesystem: hard links, no copies),
    `.NAME.push-*`: flocked while this process lives, so the next push removes one a killed push left."""
    try:
        return temp_folder(folder, "push")
    except OSError:  # a read-only parent: the staged copy copies instead of linking
        return Path(tempfile.mkdtemp(prefix=f"{folder.name}.push-"))


def plan_record(plan: PushPlan) -> dict:
    """push.json: what the push sends where, with which message (no local paths)."""
    return {"repo_id": plan.repo_id, "repo_type": plan.repo_type, "kind": plan.kind, "revision": plan.revision,
            "private": plan.private, "tag": plan.tag, "message": plan.message, "weights": plan.weights,
            "files": [{"path": rel, "bytes": size, "sha256": sha} for rel, size, sha in plan.files]}


def discard(plan: PushPlan) -> None:
    """Delete a temporary staged copy (never the source folder, never a --stage folder)."""
    if plan.temporary and plan.source is not None:
        release_temp_folder(plan.folder)


def token_source() -> str:
    """Where the token would come from, never the token itself."""
    from huggingface_hub import get_token

    if os.environ.get("HF_TOKEN"):
        return "$HF_TOKEN"
    return "huggingface_hub login" if get_token() else "none found (set HF_TOKEN or run `hf auth login`)"


def describe(plan: PushPlan) -> str:
    total = sum(size for _, size, _ in plan.files)
    where = f"https://huggingface.co/{'datasets/' if plan.repo_type == 'dataset' else ''}{plan.repo_id}"
    lines = [
        "dry run: nothing is uploaded. A push would:",
        f"  1. create_repo {plan.repo_id} (repo_type={plan.repo_type}, private={plan.private}, exist_ok) -> {where}",
        f"  2. upload_folder {plan.folder}"
        + (f" (a staged copy of {plan.source}{'; deleted after the push' if plan.temporary else ''})"
           if plan.source else "")
        + f" -> revision {plan.revision or 'main'}, commit message '{plan.message}', {len(plan.files)} files, "
        f"{total:,} bytes:",
        *(f"       {rel}  {size:,} B  sha256 {sha[:16]}" for rel, size, sha in plan.files),
        *([f"     weights: {plan.weights['dtype'] or 'as saved'}"
           + (f", cast from {plan.weights['cast_from']}" if plan.weights.get("cast_from") else "")]
          if plan.weights else []),
        f"     never sent: files matching {plan.ignore_patterns} (and .git)",
    ]
    if plan.delete_patterns:
        lines.append(f"     deleting remote files matching {plan.delete_patterns} that this folder does not have")
    lines.append("     (one commit; huggingface_hub splits only uploads of over 256 files or 5 minutes)")
    lines.append(f"  3. create_tag {plan.tag} on the (last) commit; refused before uploading if the tag exists"
                 if plan.tag
                 else "  3. no tag (pass --tag to tag this commit)")
    lines.append(f"token: {token_source()}")
    return "\n".join(lines)


def push(plan: PushPlan, api: Any = None) -> str:
    """Publish the plan; returns the commit URL. Any failure becomes a PushError with secrets scrubbed."""
    from huggingface_hub import HfApi, get_token

    if api is None:
        if not get_token():
            raise PushError("no Hugging Face token: set HF_TOKEN or run `hf auth login`")
        api = HfApi()
    try:
        api.create_repo(plan.repo_id, repo_type=plan.repo_type, private=plan.private, exist_ok=True)
        if plan.tag:
            tags = {t.name for t in api.list_repo_refs(plan.repo_id, repo_type=plan.repo_type).tags}
            if plan.tag in tags:
                raise PushError(f"tag {plan.tag} already exists on {plan.repo_id}; versions are immutable, "
                                "build with a new --version")
        if plan.revision and plan.revision != "main":
            api.create_branch(plan.repo_id, branch=plan.revision, repo_type=plan.repo_type, exist_ok=True)
        commit = api.upload_folder(
            repo_id=plan.repo_id, folder_path=str(plan.folder), repo_type=plan.repo_type, revision=plan.revision,
            commit_message=plan.message, ignore_patterns=plan.ignore_patterns, delete_patterns=plan.delete_patterns)
        if plan.tag:
            api.create_tag(plan.repo_id, tag=plan.tag, revision=commit.oid, repo_type=plan.repo_type,
                           tag_message=plan.message)
        return commit.commit_url
    except PushError as e:
        raise PushError(redact(str(e))) from None
    except Exception as e:  # noqa: BLE001 - anything from the network layer may quote a header
        raise PushError(redact(f"push to {plan.repo_id} failed: {type(e).__name__}: {e}")) from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", help="a dataset folder (augmath build), model folder (augmath train) or results folder")
    p.add_argument("--repo-id", required=True, help="ORG/NAME on the Hub")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.add_argument("--revision", default=None, help="branch to commit to (created if missing; default main)")
    p.add_argument("--message", default=None, help="commit message (default says what is pushed)")
    p.add_argument("--tag", default=None, help="tag for the commit (datasets default to v<version>)")
    p.add_argument("--dtype", default="auto", choices=DTYPES,
                   help="model weights as uploaded: auto = the training dtype (bf16 when trained in bf16, also "
                        "under bf16 autocast), else cast to this dtype; the card says which")
    p.add_argument("--stage", default=None, metavar="DIR",
                   help="keep the staged upload: DIR/repo (exactly the files sent) and DIR/push.json (the plan)")
    p.add_argument("--dry-run", action="store_true", help="print what would be uploaded where; no network")


def run(args: argparse.Namespace) -> int:
    plan = None
    try:
        plan = plan_push(args.folder, args.repo_id, args.revision, args.private, args.message, args.tag,
                         args.dtype, args.stage)
        if args.dry_run:
            print(redact(describe(plan)))
            return 0
        url = push(plan)  # a PushError is augmath.cli's one line, redacted there
    finally:
        if plan is not None:
            discard(plan)
    print(f"pushed {len(plan.files)} files to {plan.repo_id}: {url}" + (f" (tag {plan.tag})" if plan.tag else ""))
    return 0
