"""Helpers for tests/test_browser.py: a throw-away JupyterLab server and a few Playwright steps.

The server is started from `backprop_lab.coursekit.lab.lab_command` (the course's own launcher) on a temporary
copy of the course, so running notebooks and nbgrader's Validate (which saves the notebook) never
write into the working tree. It is stopped through its own process group, never by name.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "test-output" / "browser"  # git-ignored

# Debian's Chromium, driven by the playwright package (no browser download). Without network, these
# flags keep Chromium from retrying its background services over and over.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

# JupyterLab 4 virtualizes long notebooks (only the cells near the viewport are in the page);
# DOM checks need every cell, so switch that off for this server.
LAB_EXTRA_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def missing_requirement() -> str | None:
    """Why the browser test cannot run here (None when it can)."""
    if chromium_path() is None:
        return "Chromium not found (/usr/bin/chromium or `chromium` on PATH); install Debian's chromium"
    for module, what in [("playwright", "the playwright Python package (pip install playwright)"),
                         ("jupyterlab", "JupyterLab (pip install -e '.[course]')"),
                         ("nbgrader", "nbgrader (pip install -e '.[course]')")]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return f"{what} is not installed"
    return None


def chromium_path() -> str | None:
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def copy_course(dest: Path) -> Path:
    """A course root in `dest` with copies of solutions/, course/ and autograder/nbgrader_config.py."""
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
    for name in ("solutions", "course"):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    (dest / "autograder").mkdir(parents=True)
    shutil.copy2(ROOT / "autograder" / "nbgrader_config.py", dest / "autograder" / "nbgrader_config.py")
    return dest


class LabServer:
    """JupyterLab on a temporary course copy, serving solutions/ and course/ from one root.

    The argv comes from `lab_command(root, instructor=True, ...)`; only its root_dir (solutions/) is
    replaced by the course root, so both the solution and the release copies are reachable.
    """

    def __init__(self, root: Path, log_path: Path):
        from backprop_lab.coursekit.lab import lab_command

        self.root = root
        self.port = free_port()
        self.token = "backprop-lab-browser-test"
        jupyter = root / ".jupyter"
        argv, env = lab_command(root, instructor=True, port=self.port, open_browser=False,
                                settings_dir=jupyter / "user-settings",
                                workspaces_dir=jupyter / "workspaces",
                                extra_settings=LAB_EXTRA_SETTINGS)
        argv = [a for a in argv
                if not a.startswith(("--ServerApp.root_dir=", "--LabApp.default_url="))]
        argv += [f"--ServerApp.root_dir={root}", "--ServerApp.ip=127.0.0.1",
                 f"--IdentityProvider.token={self.token}", "--ServerApp.password=",
                 "--ServerApp.open_browser=False", "--no-browser",
                 # no PyPI look-ups for the extension manager (CI machines may have no network)
                 "--LabApp.extension_manager=readonly"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI often run as root
            argv.append("--allow-root")
        env = dict(env)
        # The learner's kernel picks its own backend (inline); pytest's conftest sets Agg for itself.
        env.pop("MPLBACKEND", None)
        # Runtime files, the notebook-signing key and IPython's profile stay in the temporary root.
        env["JUPYTER_RUNTIME_DIR"] = str(jupyter / "runtime")
        env["JUPYTER_DATA_DIR"] = str(jupyter / "data")
        env["IPYTHONDIR"] = str(jupyter / "ipython")
        env["PYTHONUNBUFFERED"] = "1"
        self.argv, self.env = argv, env
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}?token={self.token}"

    def start(self, timeout: float = 60.0) -> LabServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=self.root, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {self.proc.returncode}:\n{self.log_tail()}")
            try:
                req = urllib.request.Request(f"{self.base_url}/api/status",
                                             headers={"Authorization": f"token {self.token}"})
                with urllib.request.urlopen(req, timeout=2) as resp:
                    if resp.status == 200:
                        json.load(resp)
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"JupyterLab did not answer /api/status within {timeout:.0f} s:\n"
                           f"{self.log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM to the server's own process group, SIGKILL if it lingers; then SIGKILL any of its
        kernels still alive (jupyter_client starts each kernel in a session of its own, so they are
        not in the server's group; a server that exits normally has already stopped them)."""
        proc = self.proc
        if proc is None:
            return
        kernels = _children(proc.pid)
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=timeout)
        for pid, started in kernels:
            if _start_time(pid) == started:  # the same process, not a recycled PID
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        self._log.close()
        self.proc = None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no server log)"


def _start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks): tells a process from a recycled PID."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, start time) of the direct children of `pid` (Linux /proc; empty elsewhere)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append((int(entry.name), fields[19]))
    return found


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)


# ---------------------------------------------------------------------------------------------------
# Notebook steps. Selectors are JupyterLab 4's own class names.

NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"
CODE_CELL = f"{NOTEBOOK} .jp-Notebook .jp-CodeCell"
KERNEL_NAME = f"{NOTEBOOK} .jp-Toolbar-kernelName"
# The status bar's "Python 3 (ipykernel) | Idle"; the toolbar's execution indicator also says "idle"
# before any kernel is connected, so it is not enough on its own.
KERNEL_STATUS = '.jp-StatusBar-TextItem[title^="Change kernel"]'
STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'


CURRENT_PATH = ".jp-StatusBar-TextItem[title]"  # the status bar names the current document's path


def menu(page, top: str, item: str) -> None:
    """Click `top` in JupyterLab's menu bar, then its entry `item`."""
    page.locator(".lm-MenuBar-itemLabel").filter(has_text=re.compile(rf"^{re.escape(top)}$")).click()
    page.locator(".lm-Menu .lm-Menu-item").filter(
        has=page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{re.escape(item)}$"))).click()


def load_lab(page, server: LabServer, workspace: str, timeout_s: float = 90.0) -> None:
    """Load JupyterLab in `page`, in a fresh workspace (so no earlier tab is restored)."""
    page.goto(server.url(f"lab/workspaces/{workspace}"), wait_until="domcontentloaded")
    page.locator(".lm-MenuBar-itemLabel").first.wait_for(timeout=timeout_s * 1000)
    page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=timeout_s * 1000)


def open_notebook(page, relpath: str, timeout_s: float = 90.0) -> None:
    """File > Open from Path… `relpath` (relative to the server root) in the loaded JupyterLab, then
    wait until the notebook is the current tab and its kernel is connected and idle."""
    menu(page, "File", "Open from Path…")
    dialog = page.locator(".jp-Dialog")
    dialog.locator("input").fill(relpath)
    dialog.locator("button.jp-mod-accept").click()
    page.locator(f'{CURRENT_PATH}[title="{relpath}"]').wait_for(timeout=timeout_s * 1000)
    page.locator(f"{NOTEBOOK} .jp-Notebook .jp-Cell").first.wait_for(timeout=timeout_s * 1000)
    wait_until_idle(page, timeout_s)


def close_notebook(page, timeout_s: float = 30.0) -> None:
    """File > Close Tab on the current notebook, discarding its outputs (the copy is temporary)."""
    if page.locator(NOTEBOOK).count() == 0:
        return
    menu(page, "File", "Close Tab")
    discard = page.locator(".jp-Dialog button", has_text=re.compile(r"^(Discard|Don't Save)$"))
    deadline = time.monotonic() + timeout_s
    while page.locator(NOTEBOOK).count():
        if discard.count():
            discard.first.click()
        if time.monotonic() > deadline:
            raise AssertionError("the notebook tab did not close")
        time.sleep(0.1)


KERNEL_JS = """
([nameSel, statusSel]) => {
  const name = document.querySelector(nameSel);
  const status = document.querySelector(statusSel);
  return {name: name ? name.textContent.trim() : null, status: status ? status.textContent.trim() : null};
}
"""


def kernel_state(page) -> dict:
    """{"name": "Python 3 (ipykernel)", "status": "Python 3 (ipykernel) | Idle"} as the page shows it."""
    return page.evaluate(KERNEL_JS, [KERNEL_NAME, KERNEL_STATUS])


def kernel_idle(state: dict) -> bool:
    return (state["name"] not in (None, "", "No Kernel") and bool(state["status"])
            and state["status"].endswith("| Idle"))


def wait_until_idle(page, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not kernel_idle(state := kernel_state(page)):
        if time.monotonic() > deadline:
            raise AssertionError(f"the kernel did not become idle within {timeout_s:.0f} s: {state}")
        time.sleep(0.2)


def shutdown_kernels(server: LabServer) -> threading.Thread:
    """Ask the server (REST API) to stop every kernel, so notebooks opened later do not share the
    CPU with idle ones. Runs in a thread (a kernel takes ~2 s to exit); join it to wait."""
    headers = {"Authorization": f"token {server.token}"}
    with urllib.request.urlopen(urllib.request.Request(f"{server.base_url}/api/kernels", headers=headers),
                                timeout=10) as resp:
        kernels = json.load(resp)

    def stop_all():
        for kernel in kernels:
            req = urllib.request.Request(f"{server.base_url}/api/kernels/{kernel['id']}", method="DELETE",
                                         headers=headers)
            try:
                urllib.request.urlopen(req, timeout=30).close()
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass  # already gone, or the server is stopping: it stops its kernels itself

    thread = threading.Thread(target=stop_all, daemon=True)
    thread.start()
    return thread


def run_all_from_menu(page) -> None:
    """Run > Run All Cells, through the menu bar as a learner would."""
    menu(page, "Run", "Run All Cells")


CELL_STATE_JS = """
([cellSel, errSel]) => ({
  prompts: [...document.querySelectorAll(cellSel)].map(c => {
    const p = c.querySelector('.jp-InputArea-prompt');
    return p ? p.textContent.trim() : '';
  }),
  errors: document.querySelectorAll(errSel).length,
})
"""


def numbered(prompt: str) -> bool:
    return prompt.startswith("[") and prompt.endswith("]:") and prompt[1:-2].strip().isdigit()


def wait_for_run_all(page, timeout_s: float, skip: frozenset[int] = frozenset()) -> dict:
    """Wait until every code cell has a numbered prompt and the kernel is idle, or until the kernel is
    idle with an error showing (Run All stops at the first error). Returns the final cell state.

    `skip`: indices of code cells that never get a number (JupyterLab does not execute an empty
    cell, e.g. the release's blanked hidden-test cells)."""
    deadline = time.monotonic() + timeout_s
    settled_since, started = None, False
    while True:
        state = page.evaluate(CELL_STATE_JS, [CODE_CELL, f"{NOTEBOOK} {STDERR}"])
        state["kernel"] = kernel_state(page)
        prompts = [p for i, p in enumerate(state["prompts"]) if i not in skip]
        started = started or any(p != "[ ]:" for p in prompts)
        done = (prompts and all(map(numbered, prompts))) or state["errors"] > 0
        if started and done and kernel_idle(state["kernel"]):
            # the last outputs arrive just before "idle": require the state to hold for a moment
            settled_since = settled_since or time.monotonic()
            if time.monotonic() - settled_since > 0.75:
                return state
        else:
            settled_since = None
        if time.monotonic() > deadline:
            raise AssertionError(f"Run All did not finish within {timeout_s:.0f} s: kernel "
                                 f"{state['kernel']}, prompts {state['prompts']}")
        time.sleep(0.25)


OUTPUTS_JS = """
([cellSel, errSel]) => [...document.querySelectorAll(cellSel)].map((c, i) => ({
  index: i,
  prompt: (c.querySelector('.jp-InputArea-prompt') || {textContent: ''}).textContent.trim(),
  text: [...c.querySelectorAll('.jp-OutputArea-output')].map(o => o.innerText).join('\\n'),
  errors: [...c.querySelectorAll(errSel)].map(o => o.innerText.slice(0, 600)),
}))
"""


def code_cells(page) -> list[dict]:
    """Per code cell: index, prompt, output text, error/stderr output texts."""
    return page.evaluate(OUTPUTS_JS, [CODE_CELL, STDERR])


IMAGES_JS = """
async (cellSel) => {
  const out = [];
  const cells = [...document.querySelectorAll(cellSel)];
  for (let i = 0; i < cells.length; i++) {
    for (const img of cells[i].querySelectorAll('.jp-OutputArea-output img')) {
      let decoded = true;
      try { await img.decode(); } catch (e) { decoded = false; }
      out.push({cell: i, decoded: decoded && img.complete && img.naturalWidth > 0,
                width: img.naturalWidth, height: img.naturalHeight});
    }
  }
  return out;
}
"""


def output_images(page) -> list[dict]:
    """Every <img> in the code cells' outputs: its code cell's index, size, and whether the browser
    could decode it."""
    return page.evaluate(IMAGES_JS, CODE_CELL)


def validate(page, timeout_s: float = 120.0) -> str:
    """Click nbgrader's Validate toolbar button; return the text of its result dialog (left open:
    call `close_dialogs` after looking at it)."""
    page.locator(f"{NOTEBOOK} .jp-Toolbar .validate-button").first.click()
    dialog = page.locator(".jp-Dialog #validation-message")
    dialog.wait_for(state="visible", timeout=timeout_s * 1000)
    return dialog.inner_text()


def close_dialogs(page, timeout_s: float = 10.0) -> None:
    """Dismiss every open JupyterLab dialog (Escape, as a user would)."""
    deadline = time.monotonic() + timeout_s
    while page.locator(".jp-Dialog").count():
        if time.monotonic() > deadline:
            raise AssertionError("a dialog did not close")
        page.keyboard.press("Escape")
        page.wait_for_timeout(100)


def screenshot(page, name: str, folder: Path = SCREENSHOTS, whole_notebook: bool = True) -> Path:
    """Save a full-page screenshot as `folder/name.png`. With `whole_notebook`, the viewport is first
    stretched to the notebook's height: JupyterLab scrolls inside its panel, so a plain full-page
    shot would show one screen of it only."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    size = page.viewport_size
    extra = 0
    if whole_notebook:  # scroll the notebook to its top, then make room for all of it
        extra = page.evaluate(
            """(sel) => { const n = document.querySelector(sel);
                          if (!n) return 0;
                          n.scrollTop = 0;
                          const cells = n.querySelectorAll('.jp-Cell');
                          if (!cells.length) return 0;
                          const bottom = cells[cells.length - 1].getBoundingClientRect().bottom;
                          return Math.max(0, Math.ceil(bottom - n.getBoundingClientRect().bottom) + 40); }""",
            f"{NOTEBOOK} .jp-WindowedPanel-outer")
    try:
        if extra:
            page.set_viewport_size({"width": size["width"], "height": min(size["height"] + extra, 16_000)})
            page.wait_for_timeout(500)  # let JupyterLab re-lay out the taller panel
        page.screenshot(path=str(path), full_page=True)
    finally:
        if extra:
            page.set_viewport_size(size)
    return path


RUN_ALL_RECORD = SCREENSHOTS / "run_all.json"


def record_run_all(assignment: str, folder: str, cells: list[dict], seconds: float) -> dict:
    """Add one notebook's Run-All result to test-output/browser/run_all.json (kept across runs, one
    entry per folder/assignment) and return it: whether every code cell ran, how many cells show an
    error or stderr output, how many demo cells said "Finish ... first" and how many self-checks said
    "not attempted yet"."""
    entry = {
        "code_cells": len(cells),
        "ran": sum(numbered(c["prompt"]) for c in cells if c["source"]),
        "to_run": sum(1 for c in cells if c["source"]),
        "error_cells": [c["index"] for c in cells if c["errors"]],
        "finish_first_notes": sum("Finish Exercise" in c["text"] for c in cells),
        "not_attempted_checks": sum("not attempted yet" in c["text"] for c in cells),
        "seconds": round(seconds, 1),
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    entry["reached_end"] = entry["ran"] == entry["to_run"] and not entry["error_cells"]
    RUN_ALL_RECORD.parent.mkdir(parents=True, exist_ok=True)
    record = json.loads(RUN_ALL_RECORD.read_text()) if RUN_ALL_RECORD.exists() else {}
    record[f"{folder}/{assignment}"] = entry
    RUN_ALL_RECORD.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return entry
