"""Cold start: our import-time work stays off what a first request needs, and the bench's
floor census keeps exactly the libraries our code asked for."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path

from pydantic import BaseModel

import shared
from bench.cold_start import _import_tree, libraries_asked_for

ROOT = Path(__file__).resolve().parents[2]


def _our_models() -> list[type[BaseModel]]:
    """The models of ``shared`` (entry modules define none: ``functions/`` is not imported
    here, its modules build their container at import)."""
    models: list[type[BaseModel]] = []
    for info in pkgutil.walk_packages(shared.__path__, "shared."):
        module = importlib.import_module(info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseModel) and value.__module__ == info.name:
                models.append(value)
    return models


def test_every_model_of_ours_is_built_on_first_use() -> None:
    """pydantic builds a model's validator at class creation unless ``defer_build``: an
    instance would build every request model of its module, used or not."""
    models = [model for model in _our_models() if model.__name__ != "Settings"]
    assert len(models) > 20
    eager = [m.__qualname__ for m in models if not m.model_config.get("defer_build")]
    assert eager == []


def test_no_function_module_loads_the_google_http_stack_at_import() -> None:
    """httplib2 (and its pyparsing) and googleapiclient load on the first Google call."""
    code = (
        "import sys, main\n"
        "for name in dir(main): getattr(main, name)\n"
        "import shared.adapters.google_gateway, shared.adapters.google_channels\n"
        "heavy = {'httplib2', 'pyparsing', 'googleapiclient', 'pydantic_settings'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


IMPORTTIME = """\
import time:       100 |        100 |     _thread_helper
import time:       200 |        300 |   flask.json
import time:       300 |        600 | flask
import time:       100 |        100 |   encodings.idna
import time:       400 |        500 | functions_framework
import time:        50 |         50 |       pydantic_core
import time:       100 |        150 |     pydantic
import time:        20 |         20 |       json.decoder
import time:        30 |         50 |     json
import time:        10 |         10 |       requests.compat
import time:        40 |         50 |     requests
import time:        70 |        120 |   shared.adapters.fcm
import time:        60 |        330 | shared.services.push
import time:        90 |         90 | org.python.core
import time:        80 |         80 | grpc._cython
"""


def test_the_floor_keeps_the_libraries_our_code_asked_for() -> None:
    asked = libraries_asked_for(_import_tree(IMPORTTIME))
    # Libraries below a library (flask.json, pydantic_core, requests.compat) come with it;
    # ours and the standard library are left out; an import that only failed is dropped.
    assert asked == ["flask", "functions_framework", "pydantic", "requests", "grpc._cython"]


def test_the_census_reads_only_import_lines() -> None:
    assert _import_tree("import time: self [us] | cumulative | imported package\nhello") == []
