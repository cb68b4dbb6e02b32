"""Run one call of a learner's function in a forked child process the grader can always kill.

The child gets the parent's memory by `fork` (functions defined in a notebook need no
pickling), runs with one torch thread, prints into a bounded buffer, optionally measures the
memory the call touched (peak RSS growth, fresh pages, torch operations), and sends back
plain data with `torch.save`. The parent waits against a deadline and kills the child's process
group past it; no `except:` in the learner's code can catch that.
"""

from __future__ import annotations

import ctypes
import io
import os
import pickle
import resource
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "FORK_AVAILABLE", "Outcome", "Opaque", "ExcInfo",
    "run_isolated", "run_in_child", "run_in_process",
]

FORK_AVAILABLE = hasattr(os, "fork") and sys.platform.startswith("linux") and (
    os.environ.get("LCEDU_GRADE_NO_FORK", "") in ("", "0")
)
OUTPUT_LIMIT = 2000
_COURSE_DIR = str(Path(__file__).resolve().parents[1])  # .../lcedu
_GRADING_DIR = str(Path(__file__).resolve().parent)


@dataclass
class Opaque:
    """A value that could not be sent back from the child: its type's name and why."""

    kind: str
    why: str = ""


@dataclass
class ExcInfo:
    """An exception raised in the learner's call, reduced to plain data."""

    type_name: str
    kinds: list[str]
    message: str
    origin: str  # "learner", "library", "course" or "grader"
    where: str  # "file:line" of the frame that decides the origin
    learner_line: tuple[int, str] | None = None
    library: str = ""
    course_function: str = ""


@dataclass
class Outcome:
    """What came back from one call."""

    ok: bool = False
    value: Any = None
    exc: ExcInfo | None = None
    timed_out: bool = False
    died: str = ""
    args_after: list[Any] = field(default_factory=list)
    output: str = ""
    output_chars: int = 0
    stats: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


# ----- safe text -----------------------------------------------------------------------


def safe_type_name(obj: Any) -> str:
    try:
        name = type(obj).__name__
        return name if isinstance(name, str) else "object"
    except BaseException:  # noqa: BLE001
        return "object"


def safe_str(obj: Any, limit: int = 300) -> str:
    try:
        text = str(obj)
        if not isinstance(text, str):
            raise TypeError
    except BaseException as e:  # noqa: BLE001
        from lcedu.grading.messages import t

        return t("engine.message_unprintable", kind=safe_type_name(e))
    text = " ".join(text.strip().split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _origin(filename: str) -> str:
    f = os.path.abspath(filename) if filename and not filename.startswith("<") else filename
    if f.startswith(_GRADING_DIR):
        return "grader"
    if f.startswith(_COURSE_DIR):
        return "course"
    if "site-packages" in f or "dist-packages" in f or f.startswith(sys.base_prefix + "/lib"):
        return "library"
    if f.startswith(sys.prefix + "/lib"):
        return "library"
    return "learner"


def describe_exception(exc: BaseException) -> ExcInfo:
    try:
        mro = [c.__name__ for c in type(exc).__mro__]
    except BaseException:  # noqa: BLE001
        mro = ["BaseException"]
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    origins = [(_origin(fr.filename), fr) for fr in frames]
    learner_line = None
    for origin, fr in reversed(origins):
        if origin == "learner":
            learner_line = (fr.lineno or 0, (fr.line or "").strip())
            break
    origin, where, library, course_fn = "learner", "", "", ""
    responsible = None
    for i in range(len(origins) - 1, -1, -1):
        if origins[i][0] != "library":
            responsible = i
            break
    if origins and origins[-1][0] == "library":
        parts = Path(origins[-1][1].filename).parts
        for j, p in enumerate(parts):
            if p in ("site-packages", "dist-packages") and j + 1 < len(parts):
                library = parts[j + 1].split(".")[0]
                break
        library = library or "Python's standard library"
    if responsible is not None:
        kind, fr = origins[responsible]
        where = f"{os.path.basename(fr.filename)}:{fr.lineno}"
        if kind in ("course", "grader"):
            rel = os.path.relpath(fr.filename, os.path.dirname(_COURSE_DIR))
            course_fn = f"{rel.replace(os.sep, '.').removesuffix('.py')}.{fr.name}"
            called = any(o == "learner" for o, _ in origins[:responsible])
            origin = "course_called" if called else kind
        elif library:
            origin = "library"
    return ExcInfo(
        safe_type_name(exc), mro, safe_str(exc), origin, where, learner_line, library, course_fn
    )


# ----- bounded output --------------------------------------------------------------------


class _Bounded(io.TextIOBase):
    """A stdout that keeps the first OUTPUT_LIMIT characters and counts the rest."""

    def __init__(self) -> None:
        self.kept: list[str] = []
        self.n_kept = 0
        self.total = 0

    def writable(self) -> bool:
        return True

    def write(self, s: Any) -> int:
        s = s if isinstance(s, str) else safe_str(s)
        self.total += len(s)
        room = OUTPUT_LIMIT - self.n_kept
        if room > 0:
            self.kept.append(s[:room])
            self.n_kept += min(room, len(s))
        return len(s)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    @property
    def text(self) -> str:
        return "".join(self.kept)


# ----- plain data ------------------------------------------------------------------------

_PLAIN_MODULES = {"builtins", "numpy", "torch", "collections", "fractions", "decimal", "lcedu"}


def _plain(value: Any, depth: int = 0) -> Any:
    """`value` with tensors made ordinary CPU tensors and unknown objects kept only if they
    pickle; anything else becomes `Opaque`."""
    if depth > 6:
        return Opaque(safe_type_name(value), "nested too deeply")
    if isinstance(value, torch.Tensor):
        try:
            t = value.detach()
            if type(t) is not torch.Tensor:
                t = t.as_subclass(torch.Tensor)
            if t.is_sparse or t.layout != torch.strided:
                t = t.to_dense()
            return t.clone()
        except BaseException as e:  # noqa: BLE001
            return Opaque("Tensor", safe_str(e))
    if value is None or type(value) in (bool, int, float, complex, str, bytes):
        return value
    if type(value) in (tuple, list):
        items = [_plain(v, depth + 1) for v in value[:10_000]]
        return tuple(items) if type(value) is tuple else items
    if type(value) is dict:
        return {_plain(k, depth + 1): _plain(v, depth + 1) for k, v in list(value.items())[:1000]}
    if isinstance(value, torch.dtype | torch.device):
        return value
    module = getattr(type(value), "__module__", "") or ""
    if module.split(".")[0] not in _PLAIN_MODULES:  # the learner's own classes stay here:
        return Opaque(safe_type_name(value), "not a tensor, a number or a container")
    try:  # (unpickling them in the grader would run their code there)
        pickle.dumps(value)
        return value
    except BaseException as e:  # noqa: BLE001
        return Opaque(safe_type_name(value), safe_str(e, 120))


# ----- measurement -----------------------------------------------------------------------


def _status_bytes(key: str) -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class _Meter:
    """Memory and torch-operation watch for one call (inside the child only)."""

    def __init__(self) -> None:
        self.ops = 0
        self.max_numel = 0
        self.total_numel = 0
        self.mode = None
        try:
            libc = ctypes.CDLL("libc.so.6")
            libc.mallopt(-3, 64 * 1024)  # M_MMAP_THRESHOLD: big blocks are fresh pages
            libc.mallopt(-1, 64 * 1024)  # M_TRIM_THRESHOLD: freed memory goes back
            libc.prctl(41, 1, 0, 0, 0)  # PR_SET_THP_DISABLE: count 4 KiB pages
        except (OSError, AttributeError):
            pass
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")  # reset the peak RSS
        except OSError:
            pass
        try:
            from torch.overrides import TorchFunctionMode

            meter = self
            free = {"__get__", "__set__", "size", "dim", "numel", "stride", "__len__"}

            class _Watch(TorchFunctionMode):
                def __torch_function__(self, func, types, args=(), kwargs=None):
                    out = func(*args, **(kwargs or {}))
                    if getattr(func, "__name__", "") not in free:
                        meter.ops += 1
                        for t in out if isinstance(out, (tuple, list)) else (out,):
                            if isinstance(t, torch.Tensor):
                                n = t.numel()
                                meter.total_numel += n
                                meter.max_numel = max(meter.max_numel, n)
                    return out

            self.mode = _Watch()
        except Exception:  # noqa: BLE001 - an API that moved: memory still counts
            self.mode = None
        self.rss0 = _status_bytes("VmRSS")
        self.flt0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt

    def stats(self) -> dict[str, Any]:
        peak = _status_bytes("VmHWM")
        flt = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - self.flt0
        return {
            "peak_bytes": max(0, peak - self.rss0),
            "touched_bytes": flt * resource.getpagesize(),
            "torch_ops": self.ops,
            "torch_max_numel": self.max_numel,
            "torch_total_numel": self.total_numel,
            "watched": self.mode is not None,
        }


# ----- the child -------------------------------------------------------------------------


def _call(target: Callable[..., Any], args: tuple, kwargs: dict, measure: Any, out: Outcome):
    if isinstance(measure, tuple):  # (args, kwargs) of a small warm-up call, not measured:
        try:  # the code pages of the operations it uses are then loaded already
            target(*measure[0], **measure[1])
        except BaseException:  # noqa: BLE001
            pass
    meter = _Meter() if measure else None
    try:
        if meter is not None and meter.mode is not None:
            with meter.mode:
                value = target(*args, **kwargs)
        else:
            value = target(*args, **kwargs)
        out.ok = True
        out.value = value
    except BaseException as e:  # noqa: BLE001 - every learner exception becomes data
        out.exc = describe_exception(e)
    if meter is not None:
        out.stats = meter.stats()


def _child_main(target, args, kwargs, measure, path: str) -> None:
    out = Outcome()
    buf = _Bounded()
    sys.stdout = sys.stderr = buf
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
    except OSError:
        pass
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    _call(target, args, kwargs, measure, out)
    out.seconds = time.perf_counter() - t0
    sys.stdout = sys.stderr = io.StringIO()
    out.output, out.output_chars = buf.text, buf.total
    send = Outcome(
        ok=out.ok,
        value=_plain(out.value),
        exc=out.exc,
        args_after=[_plain(a) for a in (list(args) + list(kwargs.values()))],
        output=out.output,
        output_chars=out.output_chars,
        stats=out.stats,
        seconds=out.seconds,
    )
    try:
        torch.save(send, path)
    except BaseException as e:  # noqa: BLE001
        send.value = Opaque(safe_type_name(out.value), safe_str(e, 120))
        send.args_after = []
        torch.save(send, path)


def run_isolated(
    target: Callable[..., Any],
    args: tuple = (),
    kwargs: dict | None = None,
    *,
    deadline: float,
    measure: Any = False,
) -> Outcome:
    """Call ``target(*args, **kwargs)`` where a learner's bug cannot hurt the grader: in a
    forked child killed at `deadline` (a `time.monotonic()` value), or, where there is no
    fork, in this process under a SIGALRM limit. A true `measure` records the child's peak
    memory (a pair (args, kwargs) first makes one warm-up call that is not measured)."""
    kwargs = kwargs or {}
    if FORK_AVAILABLE:
        return run_in_child(target, args, kwargs, deadline, measure)
    return run_in_process(target, args, kwargs, deadline)


def run_in_child(
    target: Callable[..., Any], args: tuple, kwargs: dict, deadline: float, measure: Any
) -> Outcome:
    """`run_isolated` with fork: the call runs in a child process, its result sent back."""
    tmpdir = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    fd, path = tempfile.mkstemp(prefix="lcedu-grade-", suffix=".pt", dir=tmpdir)
    os.close(fd)
    start = time.monotonic()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass
    pid = os.fork()
    if pid == 0:  # the child: never return into the parent's code
        code = 0
        try:
            os.setpgid(0, 0)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            _child_main(target, args, kwargs, measure, path)
        except BaseException:  # noqa: BLE001
            code = 70
        finally:
            os._exit(code)
    try:
        status = _wait(pid, deadline)
    except BaseException:
        _kill(pid)
        _remove(path)
        raise
    try:
        if status is None:
            return Outcome(timed_out=True, seconds=time.monotonic() - start)
        got = None
        if os.path.getsize(path) > 0:
            try:
                got = torch.load(path, weights_only=False)
            except Exception as e:  # noqa: BLE001 - a value that does not load back
                got = Outcome(ok=True, value=Opaque("value", safe_str(e, 120)))
        if not isinstance(got, Outcome):
            how = _how_it_died(status)
            return Outcome(died=how, seconds=time.monotonic() - start)
        return got
    finally:
        _remove(path)


def _how_it_died(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"killed by signal {name}"
    if os.WIFEXITED(status):
        return f"exit status {os.WEXITSTATUS(status)}"
    return "stopped"


def _wait(pid: int, deadline: float) -> int | None:
    pause = 0.0005
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() >= deadline:
            _kill(pid)
            return None
        time.sleep(pause)
        pause = min(pause * 2, 0.01)


def _kill(pid: int) -> None:
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            kill()
        except (ProcessLookupError, PermissionError, OSError):
            pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def run_in_process(
    target: Callable[..., Any], args: tuple, kwargs: dict, deadline: float
) -> Outcome:
    """`run_isolated` without fork: the same Outcome, with a SIGALRM limit where possible."""
    import copy
    import threading

    args = copy.deepcopy(args)
    kwargs = copy.deepcopy(kwargs)
    out = Outcome()
    buf = _Bounded()
    old = sys.stdout, sys.stderr
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()

    class _Late(BaseException):
        pass

    def _handler(signum, frame):
        raise _Late()

    t0 = time.perf_counter()
    prev = signal.signal(signal.SIGALRM, _handler) if usable else None
    try:
        if usable:
            signal.setitimer(signal.ITIMER_REAL, max(0.01, deadline - time.monotonic()))
        sys.stdout = sys.stderr = buf
        _call(target, args, kwargs, False, out)
    except _Late:
        out.timed_out = True
    finally:
        if usable:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, prev)
        sys.stdout, sys.stderr = old
    if out.exc is not None and out.exc.type_name == "_Late":
        out.timed_out, out.exc = True, None
    out.seconds = time.perf_counter() - t0
    out.value = _plain(out.value)
    out.args_after = [_plain(a) for a in (list(args) + list(kwargs.values()))]
    out.output, out.output_chars = buf.text, buf.total
    return out
