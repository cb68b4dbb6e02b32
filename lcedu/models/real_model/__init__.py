"""A real pretrained model (SmolLM2-135M, offline GGUF) driven by the course's own code.

Loader, description, the course's attention kernels and RoPE scalings patched in, per-position
loss, attention-sink mass, streaming with the course's caches, the pass-key test and the
JSON records of the recorded runs. Needs the optional `model` extra.
"""

from lcedu.models.real_model.attention import (
    course_flash_forward,
    course_reference_forward,
    expand_kv_heads,
    register_course_attention,
    use_attention,
)
from lcedu.models.real_model.describe import (
    allocated_cache_bytes,
    model_facts,
    predicted_cache_bytes,
)
from lcedu.models.real_model.loader import LoadedModel, MissingModelError, gguf_path, load_model
from lcedu.models.real_model.loss import bucket_means, token_nll
from lcedu.models.real_model.passkey import PasskeyTrial, passkey_prompt, run_passkey
from lcedu.models.real_model.records import load_record
from lcedu.models.real_model.rope import (
    SCALING_NAMES,
    CourseRotaryEmbedding,
    course_inv_freq,
    rope_parameters,
    set_rope,
    transformers_rotary,
)
from lcedu.models.real_model.sinks import sink_mass, uniform_sink_mass
from lcedu.models.real_model.streaming import make_cache, stream_nll
from lcedu.models.real_model.texts import DEFAULT_FILES, long_text_ids

__all__ = [
    "DEFAULT_FILES",
    "SCALING_NAMES",
    "CourseRotaryEmbedding",
    "LoadedModel",
    "MissingModelError",
    "PasskeyTrial",
    "allocated_cache_bytes",
    "bucket_means",
    "course_flash_forward",
    "course_inv_freq",
    "course_reference_forward",
    "expand_kv_heads",
    "gguf_path",
    "load_model",
    "load_record",
    "long_text_ids",
    "make_cache",
    "model_facts",
    "passkey_prompt",
    "predicted_cache_bytes",
    "register_course_attention",
    "rope_parameters",
    "run_passkey",
    "set_rope",
    "sink_mass",
    "stream_nll",
    "token_nll",
    "transformers_rotary",
    "uniform_sink_mass",
    "use_attention",
]
