"""The correctness checks of the GPU run: the course's kernels against PyTorch's, on the device.

The Triton kernel against SDPA (forward and backward, bf16 and fp16, ragged lengths, causal
and not); each SDPA backend by name, and the CUDA flash backend's refusal of fp32 (erratum
6, run for real); `flash_attention` on the device; FlexAttention compiled on the GPU for
the sliding window and ALiBi against the dense reference (`lcedu.attention.reference`).
Each check returns a record: passed, failed, refused, skipped (with why) or error.
"""

from __future__ import annotations

import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any

import torch

from lcedu.attention.reference import attention
from lcedu.testing import tolerance

__all__ = ["CHECKS", "run_checks", "error_ratio_ok"]

DTYPE_NAMES = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}


def _shapes(dev: torch.device) -> list[tuple[int, int, int, int, int]]:
    """(batch, heads, q_len, k_len, head_dim): lengths that are not multiples of a block."""
    if dev.type == "cuda":
        return [(2, 3, 1000, 1000, 64), (1, 4, 257, 257, 128), (1, 2, 77, 301, 64)]
    return [(1, 2, 19, 19, 16), (1, 1, 7, 23, 32)]


def _inputs(shape, dtype, dev, seed: int):
    b, h, lq, lk, d = shape
    gen = torch.Generator(device=dev).manual_seed(seed)
    q = torch.randn(b, h, lq, d, generator=gen, device=dev, dtype=dtype)
    k = torch.randn(b, h, lk, d, generator=gen, device=dev, dtype=dtype)
    v = torch.randn(b, h, lk, d, generator=gen, device=dev, dtype=dtype)
    g = torch.randn(b, h, lq, d, generator=gen, device=dev, dtype=dtype)
    return q, k, v, g


def _forward_backward(fn: Callable, q, k, v, g) -> list[torch.Tensor]:
    """[out, dq, dk, dv] of fn at (q, k, v) with upstream gradient g."""
    leaves = [t.detach().clone().requires_grad_(True) for t in (q, k, v)]
    out = fn(*leaves)
    out.backward(g)
    return [out.detach()] + [t.grad.detach() for t in leaves]


def _fp32_reference(q, k, v, g, **kw) -> list[torch.Tensor]:
    """The dense reference in fp32 on the same (rounded) inputs: the witness."""
    return _forward_backward(
        lambda a, b, c: attention(a, b, c, **kw), q.float(), k.float(), v.float(), g.float()
    )


def _rel_err(x: torch.Tensor, ref: torch.Tensor) -> float:
    """max |x − ref| / max(1, max |ref|): comparable across outputs and gradients."""
    return float((x.float() - ref).abs().max() / max(1.0, float(ref.abs().max())))


def error_ratio_ok(ours: float, theirs: float, atol: float) -> bool:
    """Our error against the fp32 witness is at most twice PyTorch's own, plus atol."""
    return ours <= 2.0 * theirs + atol


def _compare(ours, theirs, ref, dtype, dev) -> tuple[bool, dict[str, list[float]]]:
    """Both results against the fp32 witness, tensor by tensor (out, dq, dk, dv)."""
    atol = tolerance(dtype, dev.type).atol
    errors: dict[str, list[float]] = {}
    ok = True
    for name, a, b, r in zip(("out", "dq", "dk", "dv"), ours, theirs, ref):
        e_ours, e_theirs = _rel_err(a, r), _rel_err(b, r)
        errors[name] = [e_ours, e_theirs]
        ok = ok and error_ratio_ok(e_ours, e_theirs, atol)
    return ok, errors


def _sdpa_default(causal: bool) -> Callable:
    import torch.nn.functional as F

    return lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=causal)


# ----- the checks: each yields records ---------------------------------------------------


def check_triton_vs_sdpa(dev: torch.device, dry_run: bool) -> list[dict[str, Any]]:
    """Triton kernel vs SDPA (PyTorch's choice of backend), forward and backward."""
    from lcedu.attention.triton_flash import interpreting, triton_available, triton_flash_attention

    if not triton_available():
        return [_skip("triton_vs_sdpa", "Triton is not installed")]
    if dev.type != "cuda" and not interpreting():
        return [_skip("triton_vs_sdpa", "needs a CUDA GPU (on a CPU: TRITON_INTERPRET=1)")]
    dtypes = (torch.bfloat16, torch.float16) if dev.type == "cuda" else (torch.float32,)
    return _versus_sdpa(
        "triton_vs_sdpa", triton_flash_attention, dev, dtypes, seed=100,
        detail="relative max error vs the fp32 dense reference, "
        "[Triton, SDPA]; passes when Triton's <= 2x SDPA's + atol",
    )


def _versus_sdpa(
    label: str, fn: Callable, dev: torch.device, dtypes: tuple, *, seed: int, detail: str
) -> list[dict[str, Any]]:
    """`fn(q, k, v, causal=...)` forward and backward vs SDPA, each dtype x causal x shape."""
    out = []
    for dtype in dtypes:
        for causal in (False, True):
            for i, shape in enumerate(_shapes(dev)):
                name = f"{label} {DTYPE_NAMES[dtype]} causal={causal} shape={shape}"

                def one(shape=shape, dtype=dtype, causal=causal, i=i):
                    q, k, v, g = _inputs(shape, dtype, dev, seed=seed + i)
                    ours = _forward_backward(
                        lambda a, b, c: fn(a, b, c, causal=causal), q, k, v, g
                    )
                    theirs = _forward_backward(_sdpa_default(causal), q, k, v, g)
                    ref = _fp32_reference(q, k, v, g, causal=causal)
                    ok, errors = _compare(ours, theirs, ref, dtype, dev)
                    return ("passed" if ok else "failed"), {
                        "errors_ours_vs_sdpa": errors,
                        "detail": detail,
                    }

                out.append(_run(name, one))
    return out


def check_sdpa_backends(dev: torch.device, dry_run: bool) -> list[dict[str, Any]]:
    """sdpa(backend=...) for flash / efficient / cudnn / math, causal and not."""
    from lcedu.attention.sdpa import sdpa

    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    shape = _shapes(dev)[0]
    out = []
    for backend in ("flash", "efficient", "cudnn", "math"):
        for causal in (False, True):
            name = f"sdpa backend={backend} {DTYPE_NAMES[dtype]} causal={causal}"

            def one(backend=backend, causal=causal):
                q, k, v, g = _inputs(shape, dtype, dev, seed=7)
                try:
                    got = sdpa(q, k, v, backend=backend, causal=causal)
                except ValueError as err:
                    return "refused", {"detail": str(err)}
                ref = attention(q.float(), k.float(), v.float(), causal=causal)
                err = _rel_err(got, ref)
                tol = tolerance(dtype, dev.type)
                ok = err <= tol.atol + tol.rtol
                return ("passed" if ok else "failed"), {
                    "max_rel_err": err,
                    "detail": f"vs the fp32 dense reference (limit {tol.atol + tol.rtol:g})",
                }

            out.append(_run(name, one))
    return out


def check_flash_refuses_fp32(dev: torch.device, dry_run: bool) -> list[dict[str, Any]]:
    """Erratum 6 for real: with only the CUDA flash kernel enabled, fp32 inputs are refused."""
    name = "sdpa flash backend refuses float32 (erratum 6)"
    if dev.type != "cuda":
        return [_skip(name, "the refusal is the CUDA flash kernel's; CPU flash takes fp32")]

    def one():
        import torch.nn.functional as F
        from torch.nn.attention import SDPBackend, sdpa_kernel

        from lcedu.attention.sdpa import sdpa

        q = torch.randn(1, 2, 64, 64, device=dev)
        raw = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                    F.scaled_dot_product_attention(q, q, q)
            except RuntimeError as err:
                raw = str(err).splitlines()[0]
        try:
            sdpa(q, q, q, backend="flash")
            ours = None
        except ValueError as err:
            ours = str(err)
        half_ok = bool(torch.isfinite(sdpa(q.bfloat16(), q.bfloat16(), q.bfloat16(),
                                           backend="flash")).all())
        ok = raw is not None and ours is not None and "float16" in ours and half_ok
        return ("passed" if ok else "failed"), {
            "pytorch_error": raw,
            "lcedu_error": ours,
            "bf16_runs": half_ok,
            "detail": "fp32 refused by PyTorch and explained by lcedu.sdpa; bf16 runs",
        }

    return [_run(name, one)]


def check_flash_attention(dev: torch.device, dry_run: bool) -> list[dict[str, Any]]:
    """lcedu's tiled flash_attention on the device, forward and backward, vs SDPA."""
    from lcedu.attention.flash import flash_attention

    dtypes = (torch.bfloat16, torch.float32) if dev.type == "cuda" else (torch.float32,)
    return _versus_sdpa(
        "flash_attention", flash_attention, dev, dtypes, seed=200,
        detail="relative max error vs the fp32 dense reference, "
        "[flash_attention, SDPA]; passes when ours <= 2x SDPA's + atol",
    )


def _flex_mode(dev: torch.device, dry_run: bool) -> tuple[bool | None, str]:
    """(compiled?, why): compiled on a GPU; eager in a CPU dry run; None = cannot run."""
    from lcedu.attention.flex import flex_available, flex_status

    if not flex_available():
        return None, f"FlexAttention needs torch >= 2.5; this is torch {torch.__version__}"
    if dev.type == "cuda":
        ok, why = flex_status(dev)
        return (True, why) if ok else (None, why)
    return False, "eager FlexAttention (CPU dry run; the GPU run compiles it)"


def _flex_check(
    title: str, detail: str, dev: torch.device, dry_run: bool, heads: int, seed: int,
    pair: Callable[..., tuple[torch.Tensor, torch.Tensor]],
) -> list[dict[str, Any]]:
    """Run `pair(q, k, v, n, causal, compiled) -> (flex output, dense reference)` causal and
    not, at n = 1000 in bf16 on a GPU (compiled) or n = 40 in fp32 on the CPU (eager)."""
    compiled, why = _flex_mode(dev, dry_run)
    if compiled is None:
        return [_skip(title, why)]
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    n = 1000 if dev.type == "cuda" else 40

    def one(causal):
        q, k, v, _ = _inputs((1, heads, n, n, 64), dtype, dev, seed=seed)
        got, ref = pair(q, k, v, n, causal, compiled)
        return _verdict(_rel_err(got, ref), dtype, dev, why)

    return _each_causal(f"{title} n={n} {detail} {DTYPE_NAMES[dtype]}", one)


def check_flex_sliding_window(dev: torch.device, dry_run: bool) -> list[dict[str, Any]]:
    """FlexAttention sliding window (compiled on the GPU) vs the dense masked reference."""
    from lcedu.attention.flex import flex_sliding_window_attention
    from lcedu.attention.masks import sliding_window_mask

    window = 96 if dev.type == "cuda" else 5

    def pair(q, k, v, n, causal, compiled):
        got = flex_sliding_window_attention(q, k, v, window, causal=causal, compiled=compiled)
        mask = sliding_window_mask(n, window, causal=causal, device=dev)
        return got, attention(q.float(), k.float(), v.float(), mask=mask)

    return _flex_check("flex sliding window", f"w={window}", dev, dry_run, 4, 300, pair)


def check_flex_alibi(dev: torch.device, dry_run: bool) -> list[dict[str, Any]]:
    """ALiBi as a FlexAttention score_mod (compiled on the GPU) vs the dense biased reference."""
    from lcedu.attention.flex import causal_mod
    from lcedu.positions.alibi import alibi_bias, alibi_score_mod, alibi_slopes

    heads = 8 if dev.type == "cuda" else 4

    def pair(q, k, v, n, causal, compiled):
        from torch.nn.attention.flex_attention import create_block_mask, flex_attention

        run = torch.compile(flex_attention, dynamic=False) if compiled else flex_attention
        slopes = alibi_slopes(heads, device=dev, dtype=torch.float32)
        score_mod = alibi_score_mod(slopes, causal=False, symmetric=not causal)
        block_mask = (
            create_block_mask(causal_mod, None, None, n, n, device=str(dev)) if causal else None
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # eager FlexAttention warns it is unfused
            got = run(q, k, v, score_mod=score_mod, block_mask=block_mask)
        bias = alibi_bias(heads, n, causal=causal, symmetric=not causal, device=dev,
                          dtype=torch.float32)
        return got, attention(q.float(), k.float(), v.float(), bias=bias)

    return _flex_check("flex ALiBi", f"heads={heads}", dev, dry_run, heads, 400, pair)


CHECKS: dict[str, Callable[[torch.device, bool], list[dict[str, Any]]]] = {
    "triton_vs_sdpa": check_triton_vs_sdpa,
    "sdpa_backends": check_sdpa_backends,
    "sdpa_flash_refuses_fp32": check_flash_refuses_fp32,
    "flash_attention": check_flash_attention,
    "flex_sliding_window": check_flex_sliding_window,
    "flex_alibi": check_flex_alibi,
}


def _verdict(err: float, dtype, dev, how: str) -> tuple[str, dict[str, Any]]:
    tol = tolerance(dtype, dev.type)
    limit = tol.atol + tol.rtol
    return ("passed" if err <= limit else "failed"), {
        "max_rel_err": err,
        "detail": f"{how}; vs the fp32 dense reference (limit {limit:g})",
    }


def _skip(name: str, why: str) -> dict[str, Any]:
    return {"check": name, "status": "skipped", "detail": why}


def _each_causal(name: str, one: Callable[[bool], tuple[str, dict[str, Any]]]
                 ) -> list[dict[str, Any]]:
    """`one(causal)` run as the checks "<name> causal=False" and "<name> causal=True"."""
    return [_run(f"{name} causal={causal}", lambda causal=causal: one(causal))
            for causal in (False, True)]


def _run(name: str, fn: Callable[[], tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Run one check; an exception becomes an 'error' record (the run goes on)."""
    t0 = time.monotonic()
    try:
        status, extra = fn()
        record = {"check": name, "status": status, **extra}
    except Exception as err:  # noqa: BLE001 - a failure in one check is recorded, not raised
        record = {
            "check": name,
            "status": "error",
            "detail": f"{type(err).__name__}: {err}".splitlines()[0][:500],
            "traceback": traceback.format_exc(limit=8),
        }
    record["seconds"] = round(time.monotonic() - t0, 3)
    return record


def run_checks(
    dev: torch.device | str,
    *,
    dry_run: bool = False,
    deadline: float | None = None,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Every check on `dev`, in order; checks starting after `deadline` are skipped."""
    dev = torch.device(dev)
    records: list[dict[str, Any]] = []
    for group, check in CHECKS.items():
        if deadline is not None and time.monotonic() > deadline:
            got = [_skip(group, "the checks' time budget is spent")]
        else:
            try:
                got = check(dev, dry_run)
            except Exception as err:  # noqa: BLE001 - e.g. an import failing inside a check
                got = [{"check": group, "status": "error", "detail": f"{type(err).__name__}: "
                        f"{err}".splitlines()[0][:500], "traceback": traceback.format_exc(8)}]
        for r in got:
            r["group"] = group
            log(f"[{r['status']:>7}] {r['check']}: {r.get('detail', '')}")
        records.extend(got)
    return records
