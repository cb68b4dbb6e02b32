"""Without a browser the browser tests skip with how to get one; under CI=true they fail."""

from __future__ import annotations

import pytest
import test_browser as browser  # tests/ is on sys.path under pytest


def test_missing_browser_skips_with_the_way_to_get_one(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        browser._missing(browser.HOW_TO_GET_ONE)


def test_missing_browser_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        browser._missing(browser.HOW_TO_GET_ONE)


def test_browser_path_comes_from_the_environment(monkeypatch, tmp_path):
    exe = tmp_path / "my-chromium"
    exe.write_text("")

    class NoBundled:
        class chromium:  # noqa: N801  (mimics playwright's attribute)
            executable_path = str(tmp_path / "absent")

    monkeypatch.setenv("LCEDU_CHROMIUM", str(exe))
    assert browser._chromium_path(NoBundled) == str(exe)
