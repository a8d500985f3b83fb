"""docs/deployment.md's environment variable table is the one the settings code gives."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def env_reference():
    spec = importlib.util.spec_from_file_location(
        "env_reference", ROOT / "scripts" / "env_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_docs_table_is_up_to_date():
    module = env_reference()
    document = module.DOC.read_text()
    expected = module.replace_block(document, module.render(module.collect()))
    assert document == expected, (
        "docs/deployment.md's variable table is out of date: "
        "run `python scripts/env_reference.py --write`"
    )


def test_every_env_call_is_found(tmp_path):
    (tmp_path / "a.py").write_text(
        "from opaa.settings.env import env\n"
        "# The answer.\n"
        "# Second line.\n"
        'ANSWER = env.int("ANSWER", default=42)\n'
        'NAMES = env.list(\n    "NAMES",\n    default=["a"],\n)\n'
        'REQUIRED = env.str("REQUIRED")\n'
        'OTHER = os.environ.get("NOT_ENV")\n'
    )
    found = {v.name: v for v in env_reference().collect(tmp_path)}
    assert set(found) == {"ANSWER", "NAMES", "REQUIRED"}
    assert found["ANSWER"].default == "42"
    assert found["ANSWER"].type == "int"
    assert found["ANSWER"].doc == "The answer. Second line."
    assert found["NAMES"].default == "['a']"
    assert found["REQUIRED"].default == "(required)"


def test_the_main_variables_are_documented():
    found = {v.name: v for v in env_reference().collect()}
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "METRICS_TOKEN", "LOG_FORMAT"} <= set(found)
    assert "required in production" in found["SECRET_KEY"].default
    # Read from workers.py, not from the test settings (which default it to True).
    assert found["CELERY_TASK_ALWAYS_EAGER"].default == "False"
