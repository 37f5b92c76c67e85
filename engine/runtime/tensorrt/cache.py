"""On-disk cache of serialized TensorRT engines.

An engine is only valid for the exact ONNX graph, GPU architecture (compute capability), TensorRT
version, precision and shape profiles it was built with, so all five make up the key. Each entry is
a folder ``<root>/<name>-<digest>/`` with ``engine.plan`` and ``manifest.json`` (the full key, the
plan's sha256 and size). Nothing is trusted on disk: an entry whose manifest does not parse, names
another key, or whose plan does not match its checksum is reported, removed and rebuilt.
Writes are atomic (temporary folder, then rename), so an interrupted build leaves no entry.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

MANIFEST = "manifest.json"
PLAN = "engine.plan"
FORMAT_VERSION = 1

Shape = tuple[int, ...]
# one optimization profile: input name -> (min, opt, max) shapes
Profile = Mapping[str, tuple[Sequence[int], Sequence[int], Sequence[int]]]


def sha256_file(path: str, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def onnx_digest(onnx_path: str) -> str:
    """sha256 of an ONNX model: the .onnx file plus, in order, any external-data files it names
    (weights of graphs over 2 GB live beside the .onnx file)."""
    h = hashlib.sha256(sha256_file(onnx_path).encode())
    for loc in _external_data_files(onnx_path):
        full = Path(onnx_path).parent / loc
        h.update(loc.encode())
        h.update(sha256_file(str(full)).encode() if full.exists() else b"<missing>")
    return h.hexdigest()


def _external_data_files(onnx_path: str) -> list[str]:
    try:
        import onnx
    except ImportError:  # pragma: no cover - onnx is a dependency
        return []
    model = onnx.load(onnx_path, load_external_data=False)
    locs = set()
    for init in model.graph.initializer:
        if init.data_location == onnx.TensorProto.EXTERNAL:
            for entry in init.external_data:
                if entry.key == "location":
                    locs.add(entry.value)
    return sorted(locs)


def normalize_profiles(profiles) -> tuple:
    """Profiles as a canonical, hashable tuple: ((name, min, opt, max), ...) per profile, sorted by name."""
    if not profiles:
        return ()
    if isinstance(profiles, Mapping):
        profiles = [profiles]
    out = []
    for prof in profiles:
        rows = []
        for name in sorted(prof):
            mn, opt, mx = prof[name]
            mn, opt, mx = (tuple(int(d) for d in s) for s in (mn, opt, mx))
            if not (len(mn) == len(opt) == len(mx)) or any(a > b or b > c for a, b, c in zip(mn, opt, mx)):
                raise ValueError(f"profile for {name!r} must satisfy min <= opt <= max: {mn} {opt} {mx}")
            rows.append((name, mn, opt, mx))
        out.append(tuple(rows))
    return tuple(out)


@dataclass(frozen=True)
class EngineKey:
    onnx_sha256: str
    compute_capability: str  # e.g. "9.0"
    trt_version: str
    precision: str  # "fp32" | "fp16"
    profiles: tuple = ()  # see normalize_profiles

    def as_dict(self) -> dict:
        d = asdict(self)
        d["profiles"] = json.loads(json.dumps(self.profiles))  # tuples -> lists, stable
        d["format"] = FORMAT_VERSION
        return d

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()


class CacheEntryInvalid(Exception):
    """An entry on disk cannot be trusted (corrupt, stale or incomplete)."""


class EngineCache:
    def __init__(self, root: str):
        self.root = Path(root)

    def entry_dir(self, key: EngineKey, name: str = "engine") -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "engine"
        return self.root / f"{safe}-{key.digest()[:24]}"

    # -- reading -------------------------------------------------------------------------------
    def load(self, key: EngineKey, name: str = "engine") -> Optional[bytes]:
        """The plan for ``key``, or None when absent. An untrustworthy entry is removed (warning)."""
        entry = self.entry_dir(key, name)
        if not entry.exists():
            return None
        try:
            return self._verified_plan(entry, key)
        except CacheEntryInvalid as exc:
            print(f"motionseg-trt: note: the cached TensorRT engine {entry} is invalid ({exc}); building it again",
                  file=sys.stderr)
            self.invalidate(key, name)
            return None

    def _verified_plan(self, entry: Path, key: EngineKey) -> bytes:
        try:
            manifest = json.loads((entry / MANIFEST).read_text())
        except (OSError, ValueError) as exc:
            raise CacheEntryInvalid(f"unreadable manifest: {exc}") from exc
        if manifest.get("key") != key.as_dict():
            raise CacheEntryInvalid("manifest names a different ONNX/GPU/TensorRT/precision/profile")
        try:
            plan = (entry / PLAN).read_bytes()
        except OSError as exc:
            raise CacheEntryInvalid(f"missing plan: {exc}") from exc
        if len(plan) != manifest.get("plan_bytes") or hashlib.sha256(plan).hexdigest() != manifest.get("plan_sha256"):
            raise CacheEntryInvalid("plan checksum mismatch")
        return plan

    # -- writing -------------------------------------------------------------------------------
    def store(self, key: EngineKey, plan: bytes, name: str = "engine", info: Optional[dict] = None) -> Path:
        entry = self.entry_dir(key, name)
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=str(self.root)))
        try:
            (tmp / PLAN).write_bytes(plan)
            manifest = {"key": key.as_dict(), "plan_sha256": hashlib.sha256(plan).hexdigest(),
                        "plan_bytes": len(plan), "name": name, "info": info or {}}
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
            if entry.exists():
                shutil.rmtree(entry)
            os.replace(tmp, entry)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return entry

    def invalidate(self, key: EngineKey, name: str = "engine") -> None:
        shutil.rmtree(self.entry_dir(key, name), ignore_errors=True)

    def get_or_build(self, key: EngineKey, build: Callable[[], bytes], name: str = "engine",
                     info: Optional[dict] = None) -> bytes:
        plan = self.load(key, name)
        if plan is None:
            plan = bytes(build())
            if not plan:
                raise RuntimeError(f"building engine {name!r} produced no plan")
            self.store(key, plan, name, info)
        return plan
