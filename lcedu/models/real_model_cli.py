"""`lcedu real-model ...`: the recorded runs of notebook 10 on SmolLM2-135M, offline.

perplexity: per-position loss beyond the native context under several RoPE scalings
(Chen et al. 2023; Peng et al. 2023); streaming: sliding window vs window + sinks
(Xiao et al. 2023); passkey: retrieval (Mohtashami & Jaggi 2023). Each writes a JSON record.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from tqdm.auto import tqdm

from lcedu._checks import OneLineParser
from lcedu.models.real_model import records
from lcedu.models.real_model.loader import MissingModelError, load_model
from lcedu.models.real_model.loss import bucket_means, token_nll
from lcedu.models.real_model.passkey import run_passkey
from lcedu.models.real_model.rope import SCALING_NAMES, set_rope
from lcedu.models.real_model.sinks import sink_mass, uniform_sink_mass
from lcedu.models.real_model.streaming import stream_nll
from lcedu.models.real_model.texts import DEFAULT_FILES, long_text_ids

__all__ = ["main"]


def _csv(kind):
    def parse(s: str):
        try:
            return [kind(x) for x in s.split(",") if x.strip()]
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list: {e}") from e

    return parse


def _at_least(minimum: int):
    """An argparse type: a whole number >= `minimum` (checked before the model loads)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="lcedu real-model", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    pp = sub.add_parser("perplexity", help="loss per 1K-token bucket beyond the native context")
    pp.add_argument("--length", type=_at_least(2), default=12288,
                    help="tokens per text (native: 8192)")
    pp.add_argument("--scaling", type=_csv(str), default=["none", "pi", "dynamic", "yarn"],
                    help="comma-separated, of: " + ", ".join(SCALING_NAMES))
    pp.add_argument("--factor", type=float, default=None,
                    help="RoPE stretch factor (default: length / native context, at least 1)")
    pp.add_argument("--files", type=_csv(str), default=list(DEFAULT_FILES[:3]),
                    help="stdlib files to use as texts")
    pp.add_argument("--bucket", type=_at_least(1), default=1024)
    st = sub.add_parser("streaming", help="stream a text: sliding window vs window + sinks")
    st.add_argument("--tokens", type=_at_least(2), default=2048)
    st.add_argument("--window", type=_at_least(1), default=256, help="cache size (sinks included)")
    st.add_argument("--sinks", type=_at_least(0), default=4)
    st.add_argument("--files", type=_csv(str), default=[DEFAULT_FILES[0]])
    st.add_argument("--kinds", type=_csv(str), default=["window", "sinks"])
    pk = sub.add_parser("passkey", help="pass-key retrieval at several lengths")
    pk.add_argument("--lengths", type=_csv(_at_least(2)), default=[2048, 4096, 8192])
    pk.add_argument("--trials", type=_csv(_at_least(1)), default=[10, 10, 4])
    pk.add_argument("--seed", type=int, default=0)
    for s in (pp, st, pk):
        s.add_argument("--out", default=None, help="JSON path (default: the shipped record)")
        s.add_argument("--threads", type=_at_least(1), default=None, help="torch threads")
    return p


def _load(threads):
    if threads:
        torch.set_num_threads(threads)
    print("loading SmolLM2-135M (offline) ...", file=sys.stderr)
    lm = load_model()
    print(f"loaded in {lm.load_seconds:.1f} s", file=sys.stderr)
    return lm


def _perplexity(args, command: str) -> dict:
    for name in args.scaling:
        if name not in SCALING_NAMES:
            raise ValueError(f"unknown scaling {name!r}; choose from {', '.join(SCALING_NAMES)}")
    if args.factor is not None and not args.factor >= 1:
        raise ValueError(f"--factor must be at least 1, got {args.factor}")
    lm = _load(args.threads)
    native = lm.model.config.max_position_embeddings
    factor = args.factor or max(1.0, args.length / native)
    rec = records.record_header(command, length=args.length, factor=factor, bucket=args.bucket,
                                native_context=native, load_seconds=lm.load_seconds,
                                texts=[], runs=[])
    texts = [long_text_ids(lm.tokenizer, f, args.length) for f in args.files]
    rec["texts"] = [fp for _, fp in texts]
    bar = tqdm(total=len(texts) * len(args.scaling), desc="forwards", unit="fwd")
    for (ids, fp) in texts:
        for name in args.scaling:
            set_rope(lm.model, name, factor if name != "none" else 1.0, source="course")
            t0 = time.perf_counter()
            nll = token_nll(lm.model, ids)
            secs = time.perf_counter() - t0
            rec["runs"].append({"file": fp["file"], "scaling": name, "seconds": round(secs, 1),
                                "buckets": [round(b, 5) for b in bucket_means(nll, args.bucket)]})
            records.write_record(rec, args.out)
            bar.update(1)
            bar.set_postfix(last=f"{fp['file']}:{name} {secs:.0f}s")
    bar.close()
    set_rope(lm.model)
    return rec


def _streaming(args, command: str) -> dict:
    lm = _load(args.threads)
    rec = records.record_header(command, tokens=args.tokens, window=args.window,
                                sinks=args.sinks, load_seconds=lm.load_seconds,
                                texts=[], runs=[])
    for f in args.files:
        ids, fp = long_text_ids(lm.tokenizer, f, args.tokens)
        rec["texts"].append(fp)
        n_probe = min(1024, args.tokens)
        mass = sink_mass(lm.model, ids[:, :n_probe], n_sink=args.sinks, min_query=64)
        rec.setdefault("sink_mass", []).append(
            {"file": f, "tokens": n_probe, "min_query": 64,
             "uniform": uniform_sink_mass(n_probe, n_sink=args.sinks, min_query=64),
             "mass": [[round(float(x), 5) for x in row] for row in mass]})
        t0 = time.perf_counter()
        full = token_nll(lm.model, ids)
        secs = round(time.perf_counter() - t0, 1)
        rec["runs"].append({"file": f, "kind": "dense", "seconds": secs,
                            "nll": [round(float(x), 4) for x in full]})
        for kind in args.kinds:
            bar = tqdm(total=args.tokens - 1, desc=f"{f} {kind}", unit="tok")
            t0 = time.perf_counter()
            nll = stream_nll(lm.model, ids, kind, window=args.window, n_sink=args.sinks,
                             progress=lambda _t, b=bar: b.update(1))
            bar.close()
            rec["runs"].append({"file": f, "kind": kind,
                                "seconds": round(time.perf_counter() - t0, 1),
                                "nll": [round(float(x), 4) for x in nll]})
            records.write_record(rec, args.out)
    return rec


def _passkey(args, command: str) -> dict:
    if len(args.lengths) != len(args.trials):
        raise ValueError("--lengths and --trials need the same number of entries")
    lm = _load(args.threads)
    rec = records.record_header(command, seed=args.seed, load_seconds=lm.load_seconds, trials=[])
    bar = tqdm(total=sum(args.trials), desc="pass-key", unit="trial")
    for length, n in zip(args.lengths, args.trials):
        t0 = time.perf_counter()

        def done(trial, t0=t0):
            rec["trials"].append({**trial.__dict__, "passed": trial.passed,
                                  "seconds": round(time.perf_counter() - t0, 1)})
            records.write_record(rec, args.out)
            bar.update(1)

        run_passkey(lm.model, lm.tokenizer, length, n, seed=args.seed, progress=done)
    bar.close()
    return rec


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    if args.out is None:
        args.out = records.RECORD_DIR / f"{args.action}.json"
    command = "lcedu real-model " + " ".join(argv)
    run = {"perplexity": _perplexity, "streaming": _streaming, "passkey": _passkey}[args.action]
    try:
        rec = run(args, command)
        rec["completed"] = True  # a record without this flag was stopped part-way
        records.write_record(rec, args.out)
    except (ValueError, MissingModelError) as e:
        print(f"lcedu real-model: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
