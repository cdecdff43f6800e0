"""Child processes that die with their parent, so a kill -9 of any augmath command leaves no orphan behind.

A process killed with SIGKILL cannot clean up, so its children must notice on their own. Linux does it for us:
PR_SET_PDEATHSIG asks the kernel to send a signal to a process when its parent dies. `die_with_parent` is the
`preexec_fn` for children we start (the embedded llama-server, the accelerate launcher, experiment stages);
`exit_with_parent` is for a process that was started by someone else's launcher (training/sft.py under
`accelerate launch`), so the whole chain augmath train -> accelerate launch -> sft.py goes down together.
Elsewhere (no glibc) both do nothing, and the explicit stop paths still apply.
"""

from __future__ import annotations

import ctypes
import os
import signal

PR_SET_PDEATHSIG = 1


def _set_pdeathsig(sig: int) -> bool:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) == 0
    except OSError:
        return False


def die_with_parent() -> None:
    """For subprocess's preexec_fn (runs in the child between fork and exec): SIGKILL when the parent dies."""
    _set_pdeathsig(signal.SIGKILL)


def exit_with_parent() -> None:
    """Call first thing in a process started by another launcher: SIGKILL when that launcher dies. A launcher
    that died between our start and this call is caught only if that happened while we asked."""
    parent = os.getppid()
    if _set_pdeathsig(signal.SIGKILL) and os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)
