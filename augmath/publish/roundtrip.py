"""Read back what `augmath push --dry-run --stage` staged, through the Hub's own HTTP read protocol, offline.

    python -m augmath.publish.roundtrip outputs/demo            # every push-*/ stage of an experiment's workdir
    python -m augmath.publish.roundtrip STAGE_DIR [STAGE_DIR ...] --keep /tmp/mirror

Each staged upload (DIR/repo + DIR/push.json) becomes a plain git repository, committed with the push's commit
message and tagged with its version tag, under an olah mirror folder (mirrors/{datasets,models}/ORG/NAME);
olah (PyPI, MIT), a real server of the Hub's read API, serves them on loopback. Then, in a fresh process with
HF_ENDPOINT pointed at it and nothing else special, the ordinary clients read them as a user would
(augmath.publish.roundtrip_client): README.md's "Using the published artifacts" snippet, run as written with
only the repo ids bound to this experiment's; every dataset config by `load_dataset(..., revision=TAG)` with the
row counts of manifest.json; every file of every repo byte-equal to what was staged; each model loaded with one
forward pass equal to the staged folder's; results.json through hf_hub_download and every repo id it names
resolvable on the same server. Any difference is a defect of the staging, reported one line each (exit 1).

Only the read side is exercised: olah has no write side (create_repo / upload / tag answer 404/405), so
`augmath push`'s own calls are tested against huggingface_hub's request layer, not a server (docs/publishing.md).
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from augmath.io import read_json

README = Path(__file__).resolve().parents[2] / "README.md"
SNIPPET_HEADING = "## Using the published artifacts"
GIT_ID = ["-c", "user.name=augmath", "-c", "user.email=augmath@localhost", "-c", "commit.gpgsign=false",
          "-c", "tag.gpgsign=false", "-c", "init.defaultBranch=main"]


class RoundTripError(RuntimeError):
    """The round trip could not be set up (no olah, no git, no staged pushes, a server that never came up)."""


def staged_pushes(paths: list[Path]) -> list[tuple[dict, Path]]:
    """(push.json, staged repo folder) of each stage folder given, or of every push-* stage under a workdir."""
    found = []
    for path in paths:
        stages = [path] if (path / "push.json").is_file() else sorted(
            p.parent for p in path.glob("stages/push-*/push.json")) or sorted(
            p.parent for p in path.glob("push-*/push.json"))
        found += [(read_json(s / "push.json"), s / "repo", (s / "push.json").stat().st_mtime) for s in stages]
    # a workdir keeps the stages of earlier settings too: per repo, the push staged last is the one to serve
    latest: dict[str, tuple] = {}
    for plan, repo, when in found:
        if plan["repo_id"] not in latest or when > latest[plan["repo_id"]][2]:
            latest[plan["repo_id"]] = (plan, repo, when)
    found = [(plan, repo) for plan, repo, _ in latest.values()]
    if not found:
        raise RoundTripError(f"no staged push (push.json + repo/) in {', '.join(map(str, paths))}: run the "
                             "experiment with push: {dry_run: true} or `augmath push DIR --dry-run --stage DIR`")
    return found


def mirror(mirrors: Path, plan: dict, staged: Path) -> Path:
    """Commit the staged folder as one git repository (the push's message, its tag) where olah serves it."""
    kind = "datasets" if plan["repo_type"] == "dataset" else "models"
    repo = mirrors / kind / plan["repo_id"]
    if repo.exists():
        shutil.rmtree(repo)
    shutil.copytree(staged, repo)
    git = ["git", *GIT_ID, "-C", str(repo)]
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", plan["message"]]) + (
            (["tag", plan["tag"]],) if plan.get("tag") else ()):
        subprocess.run(git + cmd, check=True, capture_output=True, text=True)
    return repo


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EntryNotFoundRelay(http.server.ThreadingHTTPServer):
    """A loopback relay in front of olah that answers a missing file as the Hub does.

    olah 0.5.4 in mirror + offline mode answers a file or tree path that a mirrored repository lacks with 401
    RepoNotFound (it falls through to the unreachable upstream); the Hub answers 404 EntryNotFound, and clients
    rely on it: transformers probes optional files (adapter_config.json, additional_chat_templates/) and turns a
    RepoNotFound into "not a valid model identifier". Every request is passed through unchanged; only that one
    answer, for a repository that exists in the mirror folder, is rewritten."""

    daemon_threads = True

    def __init__(self, upstream_port: int, mirrors: Path) -> None:
        self.upstream_port, self.mirrors = upstream_port, mirrors
        super().__init__(("127.0.0.1", free_port()), _RelayHandler)


class _RelayHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    REPO = re.compile(r"^/(?:api/)?(datasets/|models/)?([^/]+/[^/]+)/(?:resolve|tree)/")

    def log_message(self, *args) -> None:  # quiet: olah keeps its own log
        pass

    def _mirrored(self) -> bool:
        match = self.REPO.match(self.path)
        if match is None:
            return False
        kind = (match.group(1) or "models/").rstrip("/")
        return (self.server.mirrors / kind / match.group(2) / ".git").is_dir()

    def _relay(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        conn = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        status, out_headers = resp.status, resp.getheaders()
        if status == 401 and resp.getheader("x-error-code") == "RepoNotFound" and self._mirrored():
            status, data = 404, b""
            out_headers = [("x-error-code", "EntryNotFound"), ("x-error-message", "Entry not found")]
        conn.close()
        self.send_response(status)
        head = self.command == "HEAD" and status != 404  # a HEAD answer keeps the size of the body it describes
        for key, value in out_headers:
            if key.lower() not in ("transfer-encoding", "connection") and (head or key.lower() != "content-length"):
                self.send_header(key, value)
        if not head:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_HEAD = do_POST = _relay


class OlahServer:
    """olah in local git-mirror mode on loopback, upstream pointed at a closed port (nothing leaves the machine),
    behind an EntryNotFoundRelay; `endpoint` is the relay's URL.

    Its quirks: configuration only from a TOML file; `GET /` answers 500, so readiness is probed on
    /api/datasets/ORG/NAME/revision/main of a mirrored dataset repo."""

    def __init__(self, root: Path, probe_repo: str, timeout: float = 60.0) -> None:
        self.root, self.probe_repo, self.timeout = root, probe_repo, timeout
        self.port = free_port()
        self.relay = EntryNotFoundRelay(self.port, root / "mirrors")
        self.endpoint = f"http://127.0.0.1:{self.relay.server_address[1]}"
        self.proc: subprocess.Popen | None = None
        self.serving = False

    def _config(self) -> Path:
        (self.root / "cache").mkdir(parents=True, exist_ok=True)
        relay = self.relay.server_address[1]  # absolute URLs olah writes point at the relay
        text = (f'[basic]\nhost = "127.0.0.1"\nport = {self.port}\nrepos-path = "{self.root / "cache"}"\n'
                'hf-scheme = "http"\nhf-netloc = "127.0.0.1:9"\nhf-lfs-netloc = "127.0.0.1:9"\n'
                f'mirror-scheme = "http"\nmirror-netloc = "127.0.0.1:{relay}"\n'
                f'mirror-lfs-netloc = "127.0.0.1:{relay}"\nmirrors-path = ["{self.root / "mirrors"}"]\n\n'
                "[accessibility]\noffline = true\n")
        path = self.root / "olah.toml"
        path.write_text(text, encoding="utf-8")
        return path

    def __enter__(self) -> "OlahServer":
        exe = shutil.which("olah-cli", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                            os.environ.get("PATH", "")]))
        if exe is None:
            raise RoundTripError("olah is not installed (pip install -e '.[test]', or pip install olah==0.5.4)")
        if shutil.which("git") is None:
            raise RoundTripError("olah's mirror mode needs the git executable")
        log = open(self.root / "olah.log", "w", encoding="utf-8")
        self.proc = subprocess.Popen([exe, "-c", str(self._config()), "--log-path", str(self.root / "logs")],
                                     cwd=self.root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        url = f"http://127.0.0.1:{self.port}/api/datasets/{self.probe_repo}/revision/main"
        deadline = time.time() + self.timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RoundTripError(f"olah exited with status {self.proc.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        threading.Thread(target=self.relay.serve_forever, daemon=True).start()
                        self.serving = True
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RoundTripError(f"olah did not answer {url} within {self.timeout:.0f} s: {self.log_tail()}")

    def log_tail(self) -> str:
        path = self.root / "olah.log"
        return path.read_text(errors="replace")[-1500:] if path.is_file() else ""

    def __exit__(self, *exc) -> None:
        if self.serving:
            self.relay.shutdown()
            self.serving = False
        self.relay.server_close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def readme_snippet(readme: Path = README) -> str:
    """The first ```python block under README.md's "Using the published artifacts" heading, as written."""
    text = readme.read_text(encoding="utf-8")
    if SNIPPET_HEADING not in text:
        raise RoundTripError(f"{readme} has no '{SNIPPET_HEADING}' section")
    section = text.split(SNIPPET_HEADING, 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    if match is None:
        raise RoundTripError(f"{readme}: no ```python block under '{SNIPPET_HEADING}'")
    return match.group(1)


def snippet_repo_ids(snippet: str) -> dict[str, str]:
    """The repo ids the snippet names, by role: the dataset it loads, the model, the results repository."""
    roles = {"dataset": r'load_dataset\("([^"]+)"', "model": r'AutoModelForCausalLM\.from_pretrained\("([^"]+)"',
             "results": r'hf_hub_download\("([^"]+)"'}
    found = {role: re.search(pattern, snippet) for role, pattern in roles.items()}
    missing = [role for role, m in found.items() if m is None]
    if missing:
        raise RoundTripError(f"the README snippet names no {', '.join(missing)} repo (looked for {roles})")
    return {role: m.group(1) for role, m in found.items()}


def bind_snippet(snippet: str, repos: dict[str, str]) -> str:
    """The snippet with each repo id it names replaced by this experiment's repo of the same role; nothing else
    changes (its ids are those of configs/demo.yaml, checked by tests/publish/test_hub_roundtrip.py)."""
    for role, named in snippet_repo_ids(snippet).items():
        snippet = snippet.replace(f'"{named}"', f'"{repos[role]}"')
    return snippet


def client_env(endpoint: str, home: Path) -> dict:
    """A user's environment: HF_ENDPOINT set, a fresh cache, no token, not offline."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HF_", "HUGGINGFACE_")) and k not in ("TRANSFORMERS_OFFLINE",)}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(home), HF_HUB_DISABLE_TELEMETRY="1", TOKENIZERS_PARALLELISM="false",
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    return env


def round_trip(paths: list[Path], work: Path, readme: Path = README) -> dict:
    """Mirror, serve, read back; returns the client's report {"snippet_output", "problems", "checked"}."""
    pushes = staged_pushes(paths)
    kinds = {plan["kind"] for plan, _ in pushes}
    if not {"dataset", "results", "model"} <= kinds:
        raise RoundTripError(f"the round trip needs a dataset, a model and a results push; staged: {sorted(kinds)}")
    for plan, staged in pushes:
        mirror(work / "mirrors", plan, staged)
    local = {str(p.resolve()) for p in paths} | {str(p.resolve().parent) for p in paths} | {
        str(Path.home()), str(README.parent)}
    spec = {"pushes": [{"plan": plan, "staged": str(staged)} for plan, staged in pushes],
            "local_paths": sorted(x for x in local if len(x) > 1),
            "snippet": bind_snippet(readme_snippet(readme), {
                "dataset": next(p["repo_id"] for p, _ in pushes if p["kind"] == "dataset"),
                "model": next(p["repo_id"] for p, _ in pushes if p["kind"] == "model"),
                "results": next(p["repo_id"] for p, _ in pushes if p["kind"] == "results")})}
    (work / "spec.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    probe = next(p["repo_id"] for p, _ in pushes if p["kind"] == "dataset")
    with OlahServer(work, probe) as server:
        proc = subprocess.run([sys.executable, "-m", "augmath.publish.roundtrip_client", str(work / "spec.json"),
                               str(work / "report.json")], env=client_env(server.endpoint, work / "hf-home"),
                              capture_output=True, text=True, timeout=900)
        if not (work / "report.json").is_file():
            raise RoundTripError(f"the client failed (status {proc.returncode}):\n{proc.stderr[-3000:]}\n"
                                 f"olah: {server.log_tail()}")
    report = read_json(work / "report.json")
    report["client_stderr"] = proc.stderr[-3000:]
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m augmath.publish.roundtrip", description=__doc__.split("\n\n")[0])
    p.add_argument("paths", nargs="+", type=Path, help="an experiment workdir, or push stage folders")
    p.add_argument("--keep", type=Path, default=None, help="keep the mirror, olah's log and the report here")
    args = p.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="augmath-roundtrip-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        report = round_trip(args.paths, work)
    except RoundTripError as e:
        print(f"roundtrip: error: {e}", file=sys.stderr)
        return 2
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(report["snippet_output"], end="")
    for line in report["checked"]:
        print(f"ok: {line}")
    for line in report["problems"]:
        print(f"DIFFERS: {line}")
    print(f"round trip: {len(report['checked'])} checks passed, {len(report['problems'])} differences")
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
