"""The deployment files, checked without a Docker engine or a cluster (neither runs here): the image
definition builds from the lock on a Jupyter Docker Stacks base and copies only what exists; its start hook
gives each learner their own labs without ever overwriting their work; the Zero to JupyterHub values point
at that image and lab 00, keep learners apart and offline."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "docker" / "Dockerfile"
HOOK = ROOT / "docker" / "copy-labs.sh"
VALUES = ROOT / "deploy" / "z2jh" / "values.yaml"
LABS = sorted(p.name for p in (ROOT / "labs").glob("[0-9][0-9]_*.ipynb"))


def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_image_is_a_docker_stacks_image_built_from_the_lock() -> None:
    steps = instructions()
    base = [arg for op, arg in steps if op == "FROM"]
    assert len(base) == 1 and re.fullmatch(
        r"quay\.io/jupyter/[\w-]+-notebook:[\w.-]+(@sha256:[0-9a-f]{64})?", base[0]
    )
    assert not base[0].endswith(":latest"), "pin the base image"
    run = " ".join(arg for op, arg in steps if op == "RUN")
    assert "pip install --no-cache-dir --no-deps -r requirements/lock.txt" in run, "install exactly the lock"
    assert "pip check" in run
    assert not re.search(r"pip install (?!--no-cache-dir --no-deps)", run), "every pip install is --no-deps"


def test_every_file_the_image_copies_exists() -> None:
    for op, arg in instructions():
        if op == "COPY":
            sources = [w for w in arg.split() if not w.startswith("--")][:-1]
            for source in sources:
                assert (ROOT / source).exists(), f"docker/Dockerfile copies {source}, which does not exist"
    run = " ".join(arg for op, arg in instructions() if op == "RUN")
    for used in re.findall(r"\b(deploy/[\w./-]+)", run):
        assert (ROOT / used).is_file(), f"docker/Dockerfile uses {used}, which does not exist"
    urls = re.findall(r"/lab/tree/(labs/[\w.]+\.ipynb)", DOCKERFILE.read_text(encoding="utf-8"))
    assert urls and all((ROOT / u).is_file() for u in urls), urls


def test_build_context_leaves_out_the_environment_and_caches() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for entry in (".venv", ".git", "**/__pycache__", "**/.ipynb_checkpoints", "test-output"):
        assert entry in ignored, f".dockerignore must leave out {entry}"


@pytest.fixture
def learner_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


def start(home: Path) -> None:
    env = {**os.environ, "HOME": str(home), "COURSE_DIR": str(ROOT)}
    subprocess.run(["bash", str(HOOK)], env=env, check=True, timeout=60)


@pytest.mark.skipif(shutil.which("bash") is None, reason="the start hook is a bash script; bash is missing")
def test_start_hook_copies_every_lab_once_and_never_overwrites_the_learners_work(learner_home: Path) -> None:
    start(learner_home)
    copied = sorted(p.name for p in (learner_home / "labs").glob("*.ipynb"))
    assert copied == LABS and len(LABS) == 16
    mine = learner_home / "labs" / LABS[0]
    mine.write_text("my work", encoding="utf-8")
    (learner_home / "labs" / LABS[1]).unlink()  # a lab the learner deleted, or one new in a later image
    start(learner_home)
    assert mine.read_text(encoding="utf-8") == "my work"
    assert (learner_home / "labs" / LABS[1]).read_bytes() == (ROOT / "labs" / LABS[1]).read_bytes()


def test_hub_values_serve_the_image_at_lab_00_with_learners_apart_and_offline() -> None:
    values = yaml.safe_load(VALUES.read_text(encoding="utf-8"))
    user = values["singleuser"]
    assert (ROOT / user["defaultUrl"].removeprefix("/lab/tree/")).is_file()
    tag = re.search(r"securing-ml-course:([\w.]+)", DOCKERFILE.read_text(encoding="utf-8"))
    assert tag and str(user["image"]["tag"]) == tag.group(1), (
        "values.yaml serves the tag the Dockerfile builds"
    )
    assert user["storage"]["type"] == "dynamic", "each learner's home is their own volume"
    egress = user["networkPolicy"]["egressAllowRules"]
    assert user["networkPolicy"]["enabled"] and not egress["nonPrivateIPs"] and not egress["privateIPs"]
    assert values["hub"]["config"]["JupyterHub"]["authenticator_class"] == "shared-password"
    assert values["cull"]["enabled"]
