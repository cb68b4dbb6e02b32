"""`lcedu grade` refuses a bad --timeout in one line, before running anything."""

from __future__ import annotations

import pytest

from lcedu.cli import main


@pytest.mark.parametrize("value", ["-5", "0"])
def test_grade_refuses_a_timeout_below_one_second(value, capsys):
    assert main(["grade", "--timeout", value, "exercises"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--timeout" in err and value in err
