"""The course map: every notebook, the lesson section it mirrors, and its graded exercise.

One table, read by the welcome notebook, the README check and the tests, so the map a learner
sees is the map the repository has. Lesson sections follow ``shared/seed/README.md``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Lesson", "COURSE", "FURTHER", "repo_root", "course_table"]


@dataclass(frozen=True)
class Lesson:
    number: str
    title: str
    section: str
    notebook: str
    exercise: str | None = None
    practises: str = ""

    @property
    def solution(self) -> str | None:
        return (
            None if self.exercise is None else self.exercise.replace("exercises/", "solutions/", 1)
        )


COURSE: tuple[Lesson, ...] = (
    Lesson("00", "Welcome: the map, JupyterLab, grading", "overview", "notebooks/00_welcome.ipynb"),
    Lesson(
        "01",
        "Why long context: the quadratic wall, KV-cache memory",
        "§1.1–1.2",
        "notebooks/01_why_long_context.ipynb",
        "exercises/01_kv_cache_memory.ipynb",
        "kv_cache_bytes, attention_matrix_bytes",
    ),
    Lesson(
        "02",
        "Sparse attention and Longformer",
        "§2.1–2.2",
        "notebooks/02_sparse_attention.ipynb",
        "exercises/02_sparse_attention.ipynb",
        "sliding_window_mask, longformer_mask, banded attention",
    ),
    Lesson(
        "03",
        "FlashAttention: online softmax and tiling",
        "§2.3",
        "notebooks/03_flash_attention.ipynb",
        "exercises/03_flash_attention.ipynb",
        "merge_partials, tiled forward",
    ),
    Lesson(
        "04",
        "RoPE and Position Interpolation",
        "§3.1–3.2",
        "notebooks/04_rope_and_position_interpolation.ipynb",
        "exercises/04_rope_and_pi.ipynb",
        "apply_rope, linear (PI)",
    ),
    Lesson(
        "05",
        "NTK-aware scaling, YaRN, Llama 3",
        "§3.3",
        "notebooks/05_ntk_and_yarn.ipynb",
        "exercises/05_yarn.ipynb",
        "yarn inv_freq and attention factor",
    ),
    Lesson(
        "06",
        "ALiBi",
        "§4.1–4.2",
        "notebooks/06_alibi.ipynb",
        "exercises/06_alibi.ipynb",
        "alibi_slopes, alibi_bias",
    ),
    Lesson(
        "07",
        "Ring Attention",
        "§5.1–5.2",
        "notebooks/07_ring_attention.ipynb",
        "exercises/07_ring_attention.ipynb",
        "LSE merge, one ring step",
    ),
    Lesson(
        "08",
        "Practical guide: KV caches, memory tricks, chunking, SSMs",
        "§6.1–6.2",
        "notebooks/08_practical_guide.ipynb",
        "exercises/08_sliding_window_cache.ipynb",
        "SlidingWindowCache.update",
    ),
    Lesson(
        "09",
        "Capstone: train short, test long",
        "§3–4 in practice",
        "notebooks/09_capstone_train_short_test_long.ipynb",
    ),
    Lesson(
        "10",
        "A real model: the course's kernels and scalings in SmolLM2-135M, offline",
        "§2–4, §6 on a pretrained LLM",
        "notebooks/10_real_model.ipynb",
    ),
)

# Go further: one open-ended, graded exercise per topic notebook (lesson number -> exercise;
# its solution is the same name under solutions/). Graders: lcedu.grading.further.
FURTHER: dict[str, str] = {
    "01": "exercises/01b_longest_context.ipynb",
    "02": "exercises/02b_dilated_window_flex.ipynb",
    "03": "exercises/03b_causal_tile_skipping.ipynb",
    "04": "exercises/04b_ntk_from_the_paper.ipynb",
    "05": "exercises/05b_llama3_scaling.ipynb",
    "06": "exercises/06b_alibi_score_mod.ipynb",
    "07": "exercises/07b_zigzag_sharding.ipynb",
    "08": "exercises/08b_attention_sinks.ipynb",
}


def repo_root() -> Path:
    """The checkout this package was installed from (editable install), or the cwd."""
    here = Path(__file__).resolve().parents[2]
    if (here / "notebooks").is_dir():
        return here
    return Path.cwd()


def _width(text: str) -> int:
    """Terminal columns `text` takes: wide (e.g. Hangul) characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _aligned(rows: list[tuple[str, ...]]) -> str:
    """Rows as plain text in aligned columns (two spaces apart), a rule under the header."""
    widths = [max(_width(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = [
        "  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(r, widths)).rstrip()
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def course_table(markdown: bool = True) -> str:
    """The course map as a Markdown table, or as plain text in aligned columns."""
    if not markdown:
        plain = [("#", "Notebook", "Lesson §", "File", "Exercise (you implement)")]
        for lesson in COURSE:
            ex = f"{lesson.exercise} ({lesson.practises})" if lesson.exercise else "—"
            plain.append((lesson.number, lesson.title, lesson.section, lesson.notebook, ex))
        return _aligned(plain)
    rows = [("#", "Notebook", "Lesson §", "Exercise (you implement)")]
    for lesson in COURSE:
        ex = f"{lesson.exercise} ({lesson.practises})" if lesson.exercise else "—"
        rows.append((lesson.number, f"{lesson.title} — {lesson.notebook}", lesson.section, ex))
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)
