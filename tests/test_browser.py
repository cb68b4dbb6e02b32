"""The course in a real browser: JupyterLab driven by Chromium through Playwright.

For every lesson and exercise notebook (found by glob): Kernel > Restart Kernel and Run All
Cells, wait for the kernel, then no error output anywhere on the page, every explorer shows
an image, and moving a slider (keyboard), a menu and a checkbox (mouse) changes that image.
One exercise is then done as a learner would: a correct solution typed into a stub of
exercise 01 gets the passing verdict, a wrong one the failure box.

The server is our own (free port, a token, no browser, autosave off) on a temporary copy of
the notebooks, deleted afterwards, so nothing is ever saved over a notebook. Screenshots go
to `screenshots/browser/` (git-ignored; LCEDU_SCREENSHOTS to change it). The browser is
$LCEDU_CHROMIUM, else /usr/bin/chromium, else Playwright's own Chromium if installed.
Without one these tests skip (`apt-get install chromium`); under CI=true that is a failure.
Run only these with `make test-browser`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted(
    (ROOT / "exercises").glob("*.ipynb")
)
SHOTS = Path(os.environ.get("LCEDU_SCREENSHOTS", ROOT / "screenshots" / "browser"))
RUN_ALL_TIMEOUT_S = 300  # per notebook; generous: a notebook with a real model may come
HOW_TO_GET_ONE = (
    "no Chromium for the browser tests: `apt-get install chromium` (Debian) or set "
    "LCEDU_CHROMIUM=/path/to/chromium"
)
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SETTINGS = {  # JupyterLab user settings for the run: no autosave, no news, every cell rendered
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/extensionmanager-extension/plugin.jupyterlab-settings": {"enabled": False},
}

pytestmark = pytest.mark.browser
TIMINGS: dict[str, float] = {}


def _missing(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


def _chromium_path(playwright) -> str | None:
    candidates = [os.environ.get("LCEDU_CHROMIUM"), "/usr/bin/chromium"]
    try:
        candidates.append(playwright.chromium.executable_path)
    except Exception:
        pass
    return next((c for c in candidates if c and Path(c).is_file()), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _api(base: str, token: str, path: str, method: str = "GET"):
    req = urllib.request.Request(
        f"{base}{path}", method=method, headers={"Authorization": f"token {token}"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        body = r.read()
    return json.loads(body) if body else None


@pytest.fixture(scope="module")
def lab():
    """(browser context, base url, token, root of the temporary copy)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[test]')")
    pw = sync_playwright().start()
    exe = _chromium_path(pw)
    if exe is None:
        pw.stop()
        _missing(HOW_TO_GET_ONE)
    tmp = Path(tempfile.mkdtemp(prefix="lcedu-browser-"))
    root = tmp / "course"
    for folder in ("notebooks", "exercises"):
        shutil.copytree(ROOT / folder, root / folder)
    settings = tmp / "settings"
    for name, value in SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value), encoding="utf-8")
    port, token = _free_port(), uuid.uuid4().hex
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    log = open(tmp / "lab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={root}", "--allow-root"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            _api(base, token, "/api/status")
            break
        except Exception:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"JupyterLab did not start: {(tmp / 'lab.log').read_text()[-2000:]}")
            time.sleep(0.5)
    user_data = tmp / "chromium-profile"
    context = pw.chromium.launch_persistent_context(
        str(user_data), executable_path=exe, headless=True, args=FLAGS,
        viewport={"width": 1400, "height": 1000},
    )
    context.set_default_timeout(60_000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield context, base, token, root
    finally:
        context.close()
        pw.stop()
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        if TIMINGS:
            lines = [f"{name:<48} {secs:6.1f} s" for name, secs in TIMINGS.items()]
            lines.append(f"{'total Run All':<48} {sum(TIMINGS.values()):6.1f} s")
            (SHOTS / "run_all_times.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        shutil.rmtree(tmp, ignore_errors=True)


def _open(lab, rel: str):
    context, base, token, _ = lab
    page = context.new_page()
    page.goto(f"{base}/lab/tree/{rel}?token={token}&reset")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=120_000)
    _wait_idle(page, 120)
    return page


def _wait_idle(page, timeout_s: float) -> None:
    """Until the kernel is idle and no cell shows [*] (both steady for a second)."""
    deadline = time.monotonic() + timeout_s
    steady = 0
    while time.monotonic() < deadline:
        busy = page.evaluate(
            """() => {
                const ind = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) '
                    + '.jp-Notebook-ExecutionIndicator');
                const status = ind ? ind.getAttribute('data-status') : null;
                const running = [...document.querySelectorAll('.jp-InputPrompt')]
                    .some(p => p.textContent.includes('*'));
                return running || (status !== null && status !== 'idle');
            }"""
        )
        steady = 0 if busy else steady + 1
        if steady >= 4:
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"the notebook was still running after {timeout_s:.0f} s")


def _restart_run_all(page) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Kernel$")).click()
    page.locator('.lm-Menu-item[data-command="runmenu:restart-and-run-all"]').click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator(".jp-mod-accept").click()
    dialog.wait_for(state="detached")
    page.wait_for_timeout(1000)  # the restart itself, before cells start


def _errors_on_page(page) -> list[str]:
    """Tracebacks and stderr, explorers' red lines, widgets the frontend could not show."""
    return page.evaluate(
        """() => [...document.querySelectorAll(
                '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"],'
                + ' .lcedu-explorer-error')].map(e => e.textContent.slice(0, 300)).concat(
            [...document.querySelectorAll('.jp-OutputArea-output')]
                .map(e => e.textContent)
                .filter(t => t.includes('Error displaying widget'))
                .map(t => t.slice(0, 300)))"""
    )


def _explorer_calls(path: Path) -> int:
    """How many code cells of the notebook create an explorer (any found in lcedu.widgets)."""
    from lcedu.widgets.explorer import find_explorers

    names = "|".join(find_explorers())
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return sum(
        bool(re.search(rf"^\s*({names})\(", "".join(c["source"]), re.M))
        for c in cells
        if c["cell_type"] == "code"
    )


def _shot(locator, path: Path) -> None:
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=str(path))


def _img_src(explorer) -> str:
    img = explorer.locator(".widget-output img")
    img.wait_for(state="visible", timeout=60_000)
    return img.first.get_attribute("src") or ""


def _wait_new_image(explorer, old: str, what: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        imgs = explorer.locator(".widget-output img")
        if imgs.count() == 1:
            src = imgs.first.get_attribute("src") or ""
            if src and src != old:
                return src
        explorer.page.wait_for_timeout(250)
    raise AssertionError(f"{what} did not change the explorer's image")


def _move_controls(page, explorer, stem: str, k: int) -> list[str]:
    """Move one slider (keyboard), one checkbox (mouse) and one menu (mouse); each must
    redraw. Returns what was moved."""
    moved = []
    src = _img_src(explorer)
    _shot(explorer, SHOTS / f"{stem}-explorer{k}-0-before.png")
    slider = explorer.locator(".widget-slider .noUi-handle").first
    if slider.count():
        slider.focus()
        page.keyboard.press("ArrowRight")
        src = _wait_new_image(explorer, src, "pressing → on a slider")
        moved.append("slider")
    box = explorer.locator(".widget-checkbox input[type=checkbox]").first
    if box.count():
        box.click()
        src = _wait_new_image(explorer, src, "clicking a checkbox")
        moved.append("checkbox")
    menu = explorer.locator(".widget-dropdown select").first
    if menu.count():
        options = menu.locator("option").all_inner_texts()
        current = menu.evaluate("s => s.selectedIndex")
        menu.select_option(index=(current + 1) % len(options))
        src = _wait_new_image(explorer, src, "choosing another menu item")
        moved.append("menu")
    _shot(explorer, SHOTS / f"{stem}-explorer{k}-1-after.png")
    return moved


def _ids(paths):
    return [f"{p.parent.name}/{p.stem}" for p in paths]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_run_all_in_jupyterlab(lab, path):
    rel = f"{path.parent.name}/{path.name}"
    stem = f"{path.parent.name}-{path.stem}"
    page = _open(lab, rel)
    try:
        start = time.monotonic()
        _restart_run_all(page)
        _wait_idle(page, RUN_ALL_TIMEOUT_S)
        TIMINGS[rel] = time.monotonic() - start
        prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
        unrun = [p for p in prompts if not re.search(r"\[\d+\]", p)]
        errors = _errors_on_page(page)
        assert not errors, f"error output on the page: {errors}"
        assert not unrun, f"{len(unrun)} of {len(prompts)} code cells did not run"
        for i, out in enumerate(page.locator(".jp-OutputArea-output img").all()):
            if out.locator("xpath=ancestor::*[contains(@class,'lcedu-explorer')]").count():
                continue
            _shot(out, SHOTS / f"{stem}-figure{i:02d}.png")
        explorers = page.locator(".lcedu-explorer").all()
        expected = _explorer_calls(path)
        assert len(explorers) >= expected, (
            f"{expected} explorer(s) created, {len(explorers)} shown on the page"
        )
        for k, explorer in enumerate(explorers):
            moved = _move_controls(page, explorer, stem, k)
            assert moved, "an explorer with no slider, menu or checkbox to move"
        errors = _errors_on_page(page)
        assert not errors, f"error output after moving the controls: {errors}"
    finally:
        _shutdown(lab, page)


def _shutdown(lab, page) -> None:
    _, base, token, _ = lab
    page.close()
    for session in _api(base, token, "/api/sessions") or []:
        _api(base, token, f"/api/sessions/{session['id']}", method="DELETE")


KV_RIGHT = '''def kv_cache_bytes(num_layers, num_kv_heads, head_dim, seq_len, *, batch_size=1,
                   bytes_per_element=2):
    for v in (num_layers, num_kv_heads, head_dim, seq_len, batch_size, bytes_per_element):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"every size must be a whole number >= 1, got {v!r}")
    return 2 * num_layers * num_kv_heads * head_dim * seq_len * batch_size * bytes_per_element
'''
KV_WRONG = KV_RIGHT.replace("return 2 * num_layers", "return num_layers")  # forgets the values


def _type_into_cell(page, cell, text: str) -> None:
    editor = cell.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(text)  # as pasted: the editor's auto-indent stays out of it


def test_exercise_done_as_a_learner(lab):
    root = lab[3]
    src = sorted((root / "exercises").glob("01_*.ipynb"))[0]
    copy = src.with_name(f"learner_{src.name}")
    shutil.copy(src, copy)
    page = _open(lab, f"exercises/{copy.name}")
    try:
        _restart_run_all(page)
        _wait_idle(page, RUN_ALL_TIMEOUT_S)
        cells = page.locator(".jp-Notebook .jp-Cell")
        stub = cells.filter(has_text="def kv_cache_bytes").first
        check = stub.locator("xpath=following-sibling::div[contains(@class,'jp-CodeCell')][1]")
        for text, verdict in ((KV_WRONG, "fail"), (KV_RIGHT, "pass")):
            _type_into_cell(page, stub, text)
            page.keyboard.press("Shift+Enter")  # run the stub; the check cell is next
            _wait_idle(page, 60)
            check.locator(".cm-content").click()
            page.keyboard.press("Shift+Enter")
            _wait_idle(page, 60)
            out = check.locator(".jp-OutputArea-output")
            out.first.wait_for()
            text_out = out.first.inner_text()
            _shot(check, SHOTS / f"exercise01-learner-{verdict}.png")
            if verdict == "pass":
                assert re.search(r"all \d+ cases passed", text_out), text_out
            else:
                assert re.search(r"\d+/\d+ cases passed", text_out) and "✘" in text_out, text_out
        assert not _errors_on_page(page)
    finally:
        _shutdown(lab, page)
        copy.unlink(missing_ok=True)
