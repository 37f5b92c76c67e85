"""``motionseg_trt.ops`` exports functions by name; a submodule of the same name would shadow them."""
import importlib
import pkgutil
import subprocess
import sys

import pytest

import motionseg_trt.ops as ops


def test_no_submodule_named_like_an_export():
    submodules = {m.name for m in pkgutil.iter_modules(ops.__path__)}
    assert not submodules & set(ops.__all__), "a submodule named like an exported function shadows it"


@pytest.mark.slow  # the daily lane stays under two minutes; CI runs it
def test_exports_stay_functions_after_importing_every_submodule():
    # fresh interpreter: the bug shows only when a submodule is imported before the name is resolved
    code = (
        "import importlib, pkgutil, motionseg_trt.ops as ops\n"
        "for m in pkgutil.iter_modules(ops.__path__):\n"
        "    importlib.import_module(f'motionseg_trt.ops.{m.name}')\n"
        "from motionseg_trt.ops import medoid, medoid_batched, prompt_points, freq_encode, bilinear_sample\n"
        "for f in (medoid, medoid_batched, prompt_points, freq_encode, bilinear_sample):\n"
        "    assert callable(f) and not hasattr(f, '__path__') and type(f).__name__ != 'module', f\n"
        "import numpy as np\n"
        "assert medoid(np.array([[0, 0], [1, 0], [5, 0]], np.float32)) == 1\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_medoid_callable_after_importing_its_module():
    importlib.import_module("motionseg_trt.ops.medoid_search")
    from motionseg_trt.ops import medoid

    assert callable(medoid) and type(medoid).__name__ == "function"
