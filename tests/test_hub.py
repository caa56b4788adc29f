"""Many learners at once: JupyterHub on loopback serving three learners, each in their own browser.

JupyterHub 6 with configurable-http-proxy (npm, installed locally into .hub/ by `make hub-deps` or by
this test when npm is there), the shared-password authenticator, and LocalProcessSpawner with three
system users this test creates (and removes): each logs in from headless chromium, lands on lab 00,
runs it up to its checks, and gets their own progress file; no learner reads another's files or
reaches another's server. A real room uses containers instead (docs/deploy.md); this proves the course
works behind a hub with per-learner state. Needs root (to create users), node/npm and chromium.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import lab

pytestmark = pytest.mark.slow

ROOT = lab.ROOT
PROXY = ROOT / ".hub" / "node_modules" / ".bin" / "configurable-http-proxy"
HUB_DEPS = "then `make hub-deps`"
PROGRESS = Path(".local/share/labkit/progress.json")  # platformdirs' user data dir, under each home
# How far each learner runs lab 00: up to its first check, or through both checks (distinct progress).
RUN_TO = {0: 'check("00.integrity"', 1: 'check("00.review_queue"', 2: 'check("00.integrity"'}


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root to create the three learners' system users (run the suite as root, e.g. in CI)"
    if not shutil.which("useradd") or not shutil.which("runuser"):
        return "needs useradd and runuser (Debian's passwd and util-linux packages)"
    if not PROXY.exists():
        if not shutil.which("npm") or not shutil.which("node"):
            return "needs node and npm for configurable-http-proxy: `apt-get install nodejs npm`, " + HUB_DEPS
        subprocess.run(
            ["npm", "install", "--silent", "--prefix", str(ROOT / ".hub"), "configurable-http-proxy@5"],
            check=True,
            timeout=300,
        )
    return lab.missing()


def _learner_python(tmp: Path) -> Path:
    """An interpreter every learner may run, seeing this environment's packages and labkit.

    This environment's own interpreter may live where other users cannot go (pyenv under /root): then
    a venv of the system's Python of the same version points at our site-packages with a .pth file."""
    exe = Path(sys.executable)
    probe = subprocess.run(
        ["runuser", "-u", "nobody", "--", str(exe), "-c", "0"], capture_output=True, check=False
    )
    if probe.returncode == 0:
        return exe
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = Path("/usr/bin") / version
    if not system.exists():
        pytest.skip(
            f"{exe} is not executable by other users and there is no {system} to build their venv from"
        )
    venv = tmp / "learner-venv"
    subprocess.run([str(system), "-m", "venv", "--without-pip", str(venv)], check=True)
    site = subprocess.run(
        [str(venv / "bin/python"), "-c", "import site; print(site.getsitepackages()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "course.pth").write_text(f"{sysconfig.get_paths()['purelib']}\n{ROOT}\n")
    return venv / "bin" / "python"


def _let_learners_through(paths: list[Path]) -> list[tuple[Path, int]]:
    """Let the learners reach the course and its environment from a private checkout (`mktemp -d` makes
    one 0700): other users get read and traverse permission on each of `paths` (Python lists a folder on
    sys.path) and traverse permission only on the folders above. Returns the folders changed with their
    modes, which the fixture restores afterwards."""
    changed: list[tuple[Path, int]] = []
    for path in paths:
        for folder in [path, *path.parents]:
            mode = folder.stat().st_mode
            wanted = stat.S_IXOTH | (stat.S_IROTH if folder == path else 0)
            if mode & wanted != wanted and all(folder != done for done, _ in changed):
                folder.chmod(stat.S_IMODE(mode) | wanted)
                changed.append((folder, mode))
    return changed


@pytest.fixture(scope="module")
def hub() -> Iterator[dict[str, Any]]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    # world-readable (learners run the venv and read the course from here), unlike pytest's tmp_path
    tmp = Path(tempfile.mkdtemp(prefix="labkit-hub-"))
    tmp.chmod(0o755)
    tag = secrets.token_hex(2)
    users = [f"lk{tag}{who}" for who in ("ada", "bo", "cy")]
    password = secrets.token_urlsafe(12)
    process = None
    opened = _let_learners_through([ROOT, Path(sysconfig.get_paths()["purelib"]).resolve()])
    try:
        for user in users:  # homes only their owner can enter, as the deploy guide asks
            subprocess.run(
                ["useradd", "--create-home", "-K", "HOME_MODE=0700", "--shell", "/bin/bash", user], check=True
            )
            home = Path(pwd.getpwnam(user).pw_dir)
            target = home / "00_orientation.ipynb"
            shutil.copy(ROOT / "labs" / "00_orientation.ipynb", target)
            shutil.chown(target, user, user)
        python = _learner_python(tmp)
        port, api = lab.free_port(), lab.free_port()
        env = {
            "JUPYTER_PATH": f"{sys.prefix}/share/jupyter",  # JupyterLab's assets and server extensions
            "JUPYTER_CONFIG_PATH": f"{sys.prefix}/etc/jupyter",
            "LABKIT_QUICK": "1",
            "LABKIT_STRICT_CHECKS": "0",
            "GIT_PYTHON_REFRESH": "quiet",
            "OMP_NUM_THREADS": "1",
        }
        (tmp / "jupyterhub_config.py").write_text(
            f"""
c = get_config()  # noqa
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api}"
c.ConfigurableHTTPProxy.command = [{str(PROXY)!r}]
c.JupyterHub.db_url = "sqlite:///{tmp}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{tmp}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = "{tmp}/jupyterhub.pid"
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = {password!r}
c.Authenticator.allowed_users = {set(users)!r}
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [{str(python)!r}, "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab/tree/00_orientation.ipynb"
c.Spawner.args = ["--LabApp.app_settings_dir={ROOT}/deploy/jupyterlab-settings", "--LabApp.news_url=None",
                  "--LabApp.expose_app_in_browser=True"]
c.Spawner.environment = {env!r}
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
"""
        )
        log = tmp / "jupyterhub.log"
        with open(log, "w") as handle:
            process = subprocess.Popen(
                [sys.executable, "-m", "jupyterhub", "-f", str(tmp / "jupyterhub_config.py")],
                cwd=tmp,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 90
            while True:
                try:
                    urllib.request.urlopen(f"{base}/hub/api", timeout=2)
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"JupyterHub did not start:\n{log.read_text()[-3000:]}") from None
                    time.sleep(0.5)
            yield {"base": base, "users": users, "password": password, "tmp": tmp, "log": log}
    finally:
        if process is not None:
            process.terminate()  # the hub stops the learners' servers as it shuts down
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        for user in users:
            subprocess.run(["pkill", "-KILL", "-u", user], check=False)  # only this test's own users
            subprocess.run(["userdel", "--remove", user], capture_output=True, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
        for folder, mode in reversed(opened):
            folder.chmod(stat.S_IMODE(mode))


def _login(browser: Any, hub: dict[str, Any], user: str) -> Any:
    """Log a learner in from their own browser context; the hub starts their server meanwhile."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    page.set_default_timeout(180_000)
    page.goto(f"{hub['base']}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", hub["password"])
    page.click("#login_submit")
    return page


def _start_run(page: Any, hub: dict[str, Any], user: str, stop_at: str) -> None:
    """Wait until the learner lands on lab 00 in JupyterLab, then run its cells up to `stop_at`."""
    page.wait_for_url(f"**/user/{user}/lab/tree/00_orientation.ipynb*")  # spawned, landed on lab 00
    lab.OUTPUT.mkdir(parents=True, exist_ok=True)
    try:
        page.wait_for_function("window.jupyterapp && window.jupyterapp.shell.currentWidget", timeout=150_000)
    except Exception:
        page.screenshot(path=str(lab.OUTPUT / f"hub-failed-{user[-2:]}.png"))
        raise AssertionError(
            f"{user}'s lab 00 did not open ({page.url}):\n{hub['log'].read_text()[-3000:]}"
        ) from None
    lab.wait_idle(page, timeout=180)
    last = page.evaluate(
        """(needle) => window.jupyterapp.shell.currentWidget.content.widgets
             .findIndex(c => c.model.sharedModel.getSource().includes(needle))""",
        stop_at,
    )
    assert last > 0, f"lab 00 has no cell with {stop_at!r}"
    page.evaluate(f"(last) => {{ ({lab.RUN_CELLS_UP_TO})(last); }}", last)  # queued; not awaited


def _finish(page: Any, user: str) -> None:
    page.wait_for_function("window.__labkitRunDone === true", timeout=300_000)
    lab.wait_idle(page, timeout=300)
    notebook = page.evaluate(lab.NOTEBOOK)
    assert not lab.errors_in(notebook), lab.errors_in(notebook)
    assert "00.integrity" in lab.output_text(notebook)
    page.screenshot(path=str(lab.OUTPUT / f"hub-learner-{user[-2:]}.png"))


def test_three_learners_each_with_own_server_progress_and_files(hub: dict[str, Any]) -> None:
    users = hub["users"]
    with lab.chromium() as browser:
        # the three learners work at the same time, as in a room
        pages = [_login(browser, hub, user) for user in users]
        for i, (page, user) in enumerate(zip(pages, users, strict=True)):
            _start_run(page, hub, user, RUN_TO[i])
        for page, user in zip(pages, users, strict=True):
            _finish(page, user)
        # a learner's login does not open another learner's server
        other = pages[0].context.request.get(f"{hub['base']}/user/{users[1]}/api/contents", max_redirects=0)
        assert other.status in (302, 403, 404), f"{users[0]} reached {users[1]}'s server: {other.status}"
        if other.status == 302:
            assert f"/user/{users[1]}" not in other.headers.get("location", "").split("?")[0]
    for i, user in enumerate(users):
        entry = pwd.getpwnam(user)
        path = Path(entry.pw_dir) / PROGRESS
        assert path.stat().st_uid == entry.pw_uid, f"{path} is not owned by {user}"
        exercises = json.loads(path.read_text())["exercises"]
        expected = {"00.integrity", "00.review_queue"} if i == 1 else {"00.integrity"}
        assert set(exercises) == expected, f"{user}: {exercises}"
    for reader in users:
        for owner in users:
            if reader == owner:
                continue
            target = Path(pwd.getpwnam(owner).pw_dir) / PROGRESS
            peek = subprocess.run(
                ["runuser", "-u", reader, "--", "cat", str(target)], capture_output=True, text=True
            )
            assert peek.returncode != 0 and "Permission denied" in peek.stderr, f"{reader} read {target}"
