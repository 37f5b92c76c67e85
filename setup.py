"""Packaging glue that pyproject.toml cannot express.

* The import name says what it is (``motionseg_trt``) while the folders on disk follow the design card
  (``engine/`` and ``export/``).
* The C++ extensions in ``csrc/`` are optional, as in facebookresearch/sam2: if the compiler is missing
  or the build fails, the package still installs and ``motionseg_trt.ops`` uses its NumPy fallbacks.
  ``MOTIONSEG_BUILD_EXT=0`` skips them on purpose.
"""
import os
import sys

from setuptools import find_packages, setup
from setuptools.command.build_ext import build_ext

PACKAGE_DIR = {"motionseg_trt": "engine", "motionseg_trt.export": "export"}


def _packages():
    pkgs = ["motionseg_trt"] + [f"motionseg_trt.{p}" for p in find_packages("engine")]
    pkgs += ["motionseg_trt.export"] + [f"motionseg_trt.export.{p}" for p in find_packages("export")]
    return pkgs


def _extensions():
    if os.environ.get("MOTIONSEG_BUILD_EXT", "1") == "0":
        return []
    try:
        from pybind11.setup_helpers import Pybind11Extension
    except ImportError:  # pragma: no cover - pybind11 is a build requirement
        return []
    # no FMA contraction: the ops promise bit-identical answers to their NumPy fallbacks
    args = ["-O3", "-ffp-contract=off"]
    exts = []
    for name in ("freq_encode", "medoid"):
        src = os.path.join("csrc", f"{name}.cpp")
        if os.path.exists(src):
            exts.append(Pybind11Extension(f"motionseg_trt._C_{name}", [src], extra_compile_args=args,
                                          cxx_std=17))
    return exts


def _add_cuda_objects(ext, build_temp):
    """Compile ``csrc/<op>.cu`` beside ``<op>.cpp`` with nvcc into the same extension (static cudart) when
    nvcc is on PATH and ``MOTIONSEG_BUILD_CUDA`` is not 0; a failed CUDA build leaves a CPU-only extension."""
    import shutil
    import subprocess

    src = os.path.join("csrc", ext.name.rsplit("._C_", 1)[-1] + ".cu")
    nvcc = shutil.which("nvcc")
    if os.environ.get("MOTIONSEG_BUILD_CUDA", "1") == "0" or not nvcc or not os.path.exists(src):
        return False
    cuda_home = os.path.dirname(os.path.dirname(os.path.realpath(nvcc)))
    if not os.path.isdir(os.path.join(cuda_home, "lib64")):  # /usr/local/bin/nvcc may be a wrapper script
        cuda_home = os.environ.get("CUDA_HOME", "/usr/local/cuda")
    obj = os.path.join(build_temp, os.path.basename(src) + ".o")
    os.makedirs(build_temp, exist_ok=True)
    try:
        subprocess.run([nvcc, "-c", src, "-o", obj, "-O3", "-std=c++17", "-Xcompiler", "-fPIC"], check=True)
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"WARNING: {src} not compiled ({exc}); {ext.name} is built without CUDA.", file=sys.stderr)
        return False
    ext.extra_objects.append(obj)
    ext.define_macros.append(("MOTIONSEG_WITH_CUDA", "1"))
    ext.library_dirs.append(os.path.join(cuda_home, "lib64"))
    ext.libraries += ["cudart_static", "dl", "rt", "pthread"]
    return True


class OptionalBuildExt(build_ext):
    """Never let a failed extension build fail the install."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001
            print(f"WARNING: motionseg_trt C++ extensions not built ({exc}); NumPy fallbacks will be used.",
                  file=sys.stderr)

    def build_extension(self, ext):
        try:
            cpu_only = {k: list(getattr(ext, k)) for k in ("extra_objects", "define_macros", "library_dirs", "libraries")}
            if _add_cuda_objects(ext, self.build_temp):
                try:
                    return super().build_extension(ext)
                except Exception as exc:  # noqa: BLE001 - e.g. no static cudart: keep the CPU kernel
                    print(f"WARNING: {ext.name} with CUDA failed ({exc}); building it CPU-only.", file=sys.stderr)
                    for key, value in cpu_only.items():
                        setattr(ext, key, value)
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            print(f"WARNING: extension {ext.name} not built ({exc}); NumPy fallback will be used.",
                  file=sys.stderr)


setup(
    packages=_packages(),
    package_dir=PACKAGE_DIR,
    ext_modules=_extensions(),
    cmdclass={"build_ext": OptionalBuildExt},
)
