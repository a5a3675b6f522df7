"""The client follows the API: its models are what the pinned generator makes of
``openapi.json`` now, every operation is a method of both clients (alike), and every workflow
is in the dispatch table with its request model."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

from figur import AsyncFigur, Figur
from figur._calls import WORKFLOWS

HERE = Path(__file__).resolve().parent.parent
SPEC = json.loads((HERE.parent.parent / "openapi.json").read_text())

#: operationIds whose method reads better under another name.
RENAMED = {"list": "jobs", "detail": "job", "artifact": "download"}


def test_the_tests_check_the_installed_wheel_when_asked() -> None:
    import os

    import figur

    if os.environ.get("FIGUR_TEST_INSTALLED"):
        assert HERE not in Path(figur.__file__).resolve().parents, f"testing the source, not the wheel: {figur.__file__}"


def test_the_models_are_what_openapi_json_gives() -> None:
    check = subprocess.run(
        [sys.executable, str(HERE / "scripts" / "generate_models.py"), "--check"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr


def operations() -> dict[str, tuple[str, str, dict[str, object]]]:
    return {
        o["operationId"]: (method, path, o)
        for path, ops in SPEC["paths"].items()
        for method, o in ops.items()
    }


def test_every_operation_is_a_method_of_both_clients_and_they_are_alike() -> None:
    for op in operations():
        name = RENAMED.get(op, op)
        assert callable(getattr(Figur, name, None)), f"Figur has no {name} for {op}"
        assert callable(getattr(AsyncFigur, name, None)), f"AsyncFigur has no {name} for {op}"
    public = lambda cls: {n for n in dir(cls) if not n.startswith("_")}  # noqa: E731
    assert public(Figur) == public(AsyncFigur)
    for name in public(Figur) - {"base_url"}:
        sync, asyn = getattr(Figur, name), getattr(AsyncFigur, name)
        if callable(sync):
            assert list(inspect.signature(sync).parameters) == list(inspect.signature(asyn).parameters), name


def test_every_workflow_dispatches_with_its_request_model() -> None:
    workflows = {}
    for method, path, op in operations().values():
        if method == "post" and "202" in op["responses"] and path.count("/") == 2:  # type: ignore[operator]
            ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]  # type: ignore[index]
            workflows[path.removeprefix("/v1/")] = ref.rsplit("/", 1)[1]
    assert {w: m.__name__ for w, m in WORKFLOWS.items()} == workflows
    for workflow in workflows:
        method = workflow.replace("-", "_")
        assert callable(getattr(Figur, method)) and callable(getattr(AsyncFigur, method)), method
