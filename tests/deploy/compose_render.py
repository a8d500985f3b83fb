"""Render a compose file the way ``docker compose config`` does, for the tests.

Docker's own renderer needs the Docker CLI, which cannot be installed here; this is
the part of it the tests need: YAML with merge keys (PyYAML), then the Compose
specification's interpolation rules applied to every string value:
``$$`` (a literal ``$``), ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``,
``${VAR:?error}``, ``${VAR?error}``, ``${VAR:+replacement}``, ``${VAR+replacement}``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

_TOKEN = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


class InterpolationError(ValueError):
    """A required variable (``${VAR:?message}``) is missing, or the syntax is invalid."""


def interpolate(text: str, env: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        op, arg = match["op"], match["arg"] or ""
        present = name in env
        value = env.get(name, "")
        if op is None:
            return value
        empty_counts = op.startswith(":")
        is_set = present and (bool(value) or not empty_counts)
        kind = op[-1]
        if kind == "-":
            return value if is_set else arg
        if kind == "?":
            if not is_set:
                raise InterpolationError(f"{name}: {arg or 'is required'}")
            return value
        return arg if is_set else ""  # "+"

    result = _TOKEN.sub(replace, text)
    return result


def _walk(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {key: _walk(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [_walk(value, env) for value in node]
    if isinstance(node, str):
        return interpolate(node, env)
    return node


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines; comments and blank lines skipped, values unquoted."""
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path}: not KEY=VALUE: {line!r}")
        env[key.strip()] = value.strip().strip("'\"")
    return env


def render(path: Path, env: dict[str, str]) -> dict[str, Any]:
    """The compose model: parsed, merge keys resolved, ``x-`` extensions dropped, interpolated."""
    model = yaml.safe_load(path.read_text())
    model = {key: value for key, value in model.items() if not key.startswith("x-")}
    return _walk(model, env)


def variables_used(path: Path) -> set[str]:
    """Every variable name the file interpolates."""
    return {
        match["braced"] or match["named"]
        for match in _TOKEN.finditer(path.read_text())
        if not match["escaped"]
    }
