"""The course map, the files on disk and the README agree."""

from __future__ import annotations

from pathlib import Path

from lcedu.course.map import COURSE, FURTHER, course_table

ROOT = Path(__file__).resolve().parents[1]


def test_every_mapped_file_exists():
    for lesson in COURSE:
        assert (ROOT / lesson.notebook).exists(), lesson.notebook
        if lesson.exercise:
            assert (ROOT / lesson.exercise).exists(), lesson.exercise
            assert (ROOT / lesson.solution).exists(), lesson.solution


def test_every_notebook_is_mapped():
    mapped = {lesson.notebook for lesson in COURSE}
    mapped_ex = {lesson.exercise for lesson in COURSE if lesson.exercise}
    mapped_ex |= set(FURTHER.values())
    for p in (ROOT / "notebooks").glob("*.ipynb"):
        assert f"notebooks/{p.name}" in mapped, f"{p.name} is missing from lcedu.course.map"
    for p in (ROOT / "solutions").glob("*.ipynb"):
        assert f"exercises/{p.name}" in mapped_ex, f"{p.name} is missing from lcedu.course.map"


def test_numbers_are_in_order_and_unique():
    numbers = [lesson.number for lesson in COURSE]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    for lesson in COURSE:
        assert Path(lesson.notebook).name.startswith(lesson.number + "_")


def test_readme_lists_every_notebook():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for lesson in COURSE:
        assert lesson.notebook in readme, f"README does not mention {lesson.notebook}"
        if lesson.exercise:
            assert lesson.exercise in readme, f"README does not mention {lesson.exercise}"


def test_course_table_has_a_row_per_lesson():
    table = course_table()
    assert len(table.splitlines()) == len(COURSE) + 2


def test_plain_course_table_has_aligned_columns():
    lines = course_table(markdown=False).splitlines()
    assert len(lines) == len(COURSE) + 2 and set(lines[1]) <= {"-", " "}
    starts = [i + 2 for i, ch in enumerate(lines[1]) if ch == " " and lines[1][i + 1] == " "]
    for line in [lines[0]] + lines[2:]:
        for col in starts:
            assert line[col - 2 : col] == "  " and line[col] != " ", (line, col)
    assert all(lesson.notebook in course_table(markdown=False) for lesson in COURSE)
