"""Images: render the Dockerfile of an engine flavour, build it with a content-addressed tag, reuse it.

The tag is a hash of every build input (rendered Dockerfile, hashed lock file, project source,
resolved base image id), so the same inputs give the same tag and a second build is a lookup. The
build context holds only the wheelhouse and the lock, and pip installs from it with no index.

The CPU flavour builds with no network at all. The GPU flavours start from a CUDA base that ships no
Python, so their one apt step (python3 and venv from the Ubuntu archive the base's digest names)
needs the network: those builds run with the default build network, which the image's labels
record (``dev.loomctl.build-network``), and the apt step is skipped on a base that already has
python3 with venv (a site's mirror with Python, passed as ``--base``, builds air-gapped).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from loomcore.errors import InputError, RuntimeFailure
from loomcore.hashing import file_sha256, sha256_json, sha256_text

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "images"


@dataclass(frozen=True)
class Flavour:
    """One image flavour: whether its base needs Python installed (CUDA bases ship none), the Python its
    lock is resolved for (the CPU image runs on the local Debian bookworm base, python3.11; the GPU images
    on nvidia/cuda:*-ubuntu24.04, python3.12), and the engine whose package's locked version must equal
    the manifest's engine.version (the package is the engine's registry row's)."""

    install_python: bool
    python: str
    engine: str


FLAVOURS = {"cpu": Flavour(False, "3.11", "transformers"), "transformers": Flavour(True, "3.12", "transformers"),
            "vllm": Flavour(True, "3.12", "vllm"), "sglang": Flavour(True, "3.12", "sglang")}
PYTHON = {name: flavour.python for name, flavour in FLAVOURS.items()}


@dataclass(frozen=True)
class Image:
    tag: str
    id: str
    flavour: str
    base: str
    base_id: str
    base_substituted: bool
    inputs_sha256: str
    reused: bool
    pushed: str | None = None  # registry/repository@sha256:… after --push


    def provenance(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "reused" and not (k == "pushed" and v is None)}


@cache
def client():
    try:
        import docker
    except ImportError:
        raise InputError("--runtime docker: the docker SDK is missing — pip install 'loomctl[docker]'") from None
    try:
        c = docker.from_env()
        c.ping()
        return c
    except Exception as exc:
        raise RuntimeFailure(f"docker: no engine reachable ({type(exc).__name__}: {exc}) — start dockerd or "
                             "set DOCKER_HOST") from None


def flavour_of(manifest_data: dict[str, Any]) -> str:
    flavour = manifest_data["image"].get("flavour") or (
        "cpu" if manifest_data["accelerator"]["kind"] == "cpu" else manifest_data["engine"]["name"])
    if flavour not in FLAVOURS:
        raise InputError(f"image/flavour: no image flavour {flavour!r} — use one of {sorted(FLAVOURS)}")
    return flavour


def render(flavour: str, base: str, project_wheel: str) -> str:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    template = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True).from_string(
        (IMAGES / "Dockerfile.j2").read_text())
    return template.render(flavour=flavour, base=base, install_python=FLAVOURS[flavour].install_python, project_wheel=project_wheel)


def lock_text(flavour: str) -> str:
    path = IMAGES / f"lock-{flavour}.txt"
    if not path.is_file():
        raise InputError(f"image/flavour: no lock file {path.relative_to(ROOT)} — run "
                         f"`python scripts/lock_image.py {flavour}` where the package index is reachable")
    return path.read_text()


def check_engine_version(flavour: str, lock: str, manifest_data: dict[str, Any]) -> None:
    """The image must carry the engine version the manifest pins; the lock decides what is installed."""
    from harness.api import ENGINES

    package = ENGINES[FLAVOURS[flavour].engine].package
    locked = next((line.split("==", 1)[1].split()[0] for line in lock.splitlines()
                   if line.startswith(f"{package}==")), None)
    pinned = manifest_data["engine"]["version"]
    if locked is None or locked.split("+")[0] != pinned:
        raise InputError(f"engine/version: the manifest pins {package} {pinned}, images/lock-{flavour}.txt "
                         f"installs {locked or 'none'} — re-lock the image for that version, or re-pin the manifest")


# A package that publishes no wheel (jieba, which LongBench's Chinese scorers segment with) is locked on two
# hashes: its sdist's, as the index serves it, and that of the wheel built from it here, reproducibly —
# ``pip wheel`` with the host lock's setuptools and every zip time set to SDIST_EPOCH (1980-01-01, the
# earliest a zip holds). An image or a venv then installs it with both hashes checked, never building.
SDIST_EPOCH = "315532800"


def build_sdist_wheel(sdist: Path, dest: Path) -> Path:
    """The wheel of ``sdist`` built reproducibly into ``dest`` (see ``SDIST_EPOCH``); the sdist's setup code
    runs here, so only an sdist whose hash a lock names may be given."""
    dest.mkdir(parents=True, exist_ok=True)
    before = set(dest.glob("*.whl"))
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                             "-w", str(dest), str(sdist)], capture_output=True, text=True,
                            env={**os.environ, "SOURCE_DATE_EPOCH": SDIST_EPOCH})
    built = sorted(set(dest.glob("*.whl")) - before)
    if result.returncode or len(built) != 1:
        raise RuntimeFailure(f"build: the wheel of {sdist.name} failed ({result.stderr.strip()[-300:]}) — run "
                             f"`pip wheel --no-deps --no-build-isolation {sdist}` with the host lock installed "
                             "(make install) to see why")
    return built[0]


def sdist_lines(lock: str) -> list[str]:
    """The lock's lines of packages built from an sdist: two hashes, the sdist's then its reproducible wheel's."""
    return [line for line in lock.splitlines() if not line.startswith("#") and line.count("--hash=sha256:") == 2]


def lock_sdists(lock: str) -> dict[str, tuple[str, str]]:
    """The lock's packages built from an sdist: sdist sha256 -> (name==version, the built wheel's sha256)."""
    found = {}
    for line in sdist_lines(lock):
        sdist, wheel = (part.split(":", 1)[1] for part in line.split() if part.startswith("--hash=sha256:"))
        found[sdist] = (line.split()[0], wheel)
    return found


def _wheels_of(folder: Path, pin: str) -> list[Path]:
    """The wheels in ``folder`` named for ``name==version`` (a wheel's file name: the name with '_' for '-')."""
    name, version = pin.split("==")
    return list(folder.glob(f"{name.replace('-', '_')}-{version}-*.whl"))


def sdist_wheels(wheelhouse: Path, lock: str, dest: Path) -> list[Path]:
    """The wheels of the lock's sdist-only packages, built into ``dest`` from the sdists in ``wheelhouse`` whose
    sha256 the lock names (any other sdist is never built: building runs its code); a built wheel whose sha256
    is not the lock's is refused. A package whose wheel is already in the wheelhouse is not built again."""
    wanted = lock_sdists(lock)
    built: list[Path] = []
    if not wanted:
        return built
    for sdist in sorted(wheelhouse.glob("*.tar.gz")):
        entry = wanted.get(file_sha256(sdist))
        if entry is None or any(file_sha256(wheel) == entry[1] for wheel in _wheels_of(wheelhouse, entry[0])):
            continue
        wheel = build_sdist_wheel(sdist, dest)
        if file_sha256(wheel) != entry[1]:
            wheel.unlink()
            raise RuntimeFailure(f"build: {sdist.name} built to a wheel whose sha256 is not the one the lock names "
                                 f"for {entry[0]} — build with the host lock's setuptools (make install), or re-lock "
                                 "(make lock)")
        built.append(wheel)
    return built


def project_source_sha256() -> str:
    files = sorted(p for d in ("loomctl", "loomcore", "harness") for p in (ROOT / d).rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts)
    files.append(ROOT / "pyproject.toml")
    return sha256_json({p.relative_to(ROOT).as_posix(): sha256_text(p.read_text(encoding="utf-8", errors="replace"))
                        for p in files})


def _project_wheel(dest: Path) -> str:
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                             "--quiet", "-w", str(dest), str(ROOT)], capture_output=True, text=True)
    if result.returncode:
        raise RuntimeFailure(f"build: the project wheel failed ({result.stderr.strip()[-300:]}) — run "
                             "`pip wheel --no-deps .` to see why")
    return next(dest.glob("loomctl-*.whl")).name


def _base(manifest_data: dict[str, Any], base_override: str | None) -> tuple[str, str, bool]:
    pinned = manifest_data["image"].get("base")
    base = base_override or pinned
    if not base:
        raise InputError("image/base: the manifest pins no base image — pin one by digest (name@sha256:…), or "
                         "pass --base with a local or mirrored image (recorded in every result)")
    try:
        base_id = client().images.get(base).id
    except Exception:
        raise InputError(f"--base: image {base!r} is not present on this docker engine — build or load it first "
                         "(images/make-local-base.sh makes a local Debian base); nothing is pulled") from None
    return base, base_id, bool(base_override) and base_override != pinned


def build(manifest_data: dict[str, Any], base_override: str | None = None, wheelhouse: Path | None = None,
          push: str | None = None, log=print) -> Image:
    flavour = flavour_of(manifest_data)
    base, base_id, substituted = _base(manifest_data, base_override)
    lock = lock_text(flavour)
    check_engine_version(flavour, lock, manifest_data)
    wheel_name = f"loomctl-{__import__('loomctl').__version__}-py3-none-any.whl"
    dockerfile = render(flavour, base, wheel_name)
    inputs = sha256_json({"dockerfile": dockerfile, "lock": sha256_text(lock), "project": project_source_sha256(),
                          "base_id": base_id, "flavour": flavour})
    tag = f"loomctl-{flavour}:{inputs[:16]}"
    docker = client()
    try:
        existing = docker.images.get(tag)
        image = Image(tag, existing.id, flavour, base, base_id, substituted, inputs, True)
        log(f"image {tag} is current (id {existing.id[:19]}); reused")
        return _push(image, push)
    except Exception as exc:
        if type(exc).__name__ != "ImageNotFound":
            raise
    if wheelhouse is None:
        raise InputError("--wheelhouse: building needs a folder with every wheel (or sdist) of "
                         f"images/lock-{flavour}.txt — make one with `pip download --no-deps --require-hashes "
                         f"-r images/lock-{flavour}.txt -d WHEELHOUSE`")
    with tempfile.TemporaryDirectory(prefix="loomctl-build-") as tmp:
        context = Path(tmp)
        (context / "wheelhouse").mkdir()
        for wheel in wheelhouse.glob("*.whl"):
            try:
                os.link(wheel, context / "wheelhouse" / wheel.name)
            except OSError:
                shutil.copy2(wheel, context / "wheelhouse" / wheel.name)
        sdist_wheels(wheelhouse, lock, context / "wheelhouse")
        built = _project_wheel(context / "wheelhouse")
        if built != wheel_name:
            raise RuntimeFailure(f"build: the project wheel is {built}, expected {wheel_name}")
        (context / "lock.txt").write_text(lock)
        (context / "Dockerfile").write_text(dockerfile)
        labels = {"dev.loomctl.inputs-sha256": inputs, "dev.loomctl.base": base, "dev.loomctl.base-id": base_id,
                  "dev.loomctl.base-substituted": str(substituted).lower(),
                  "dev.loomctl.lock-sha256": sha256_text(lock), "dev.loomctl.flavour": flavour}
        network = "default" if FLAVOURS[flavour].install_python else "none"
        labels["dev.loomctl.build-network"] = network
        log(f"building {tag} on {base} ({base_id[:19]}), build network {network}")
        for chunk in docker.api.build(path=str(context), tag=tag, labels=labels, rm=True, forcerm=True,
                                      network_mode=network, decode=True):
            if "error" in chunk:
                raise RuntimeFailure(f"build: {chunk['error'].strip()} — see the build log above")
            if chunk.get("stream", "").strip():
                log(chunk["stream"].rstrip())
    image = Image(tag, docker.images.get(tag).id, flavour, base, base_id, substituted, inputs, False)
    return _push(image, push)


def _push(image: Image, registry: str | None) -> Image:
    """Tag the image as REGISTRY/loomctl-<flavour>:<inputs> and push it; the registry's manifest digest
    (``repository@sha256:…``) is recorded, so a cluster can pull exactly what was built."""
    if not registry:
        return image
    name, version = image.tag.split(":")
    repository = f"{registry.rstrip('/')}/{name}"
    docker = client()
    docker.images.get(image.tag).tag(repository, version)
    digest = None
    for chunk in docker.images.push(repository, version, stream=True, decode=True):
        if "error" in chunk:
            raise RuntimeFailure(f"push: {chunk['error']} — check the registry address and your login "
                                 "(docker login REGISTRY)")
        digest = (chunk.get("aux") or {}).get("Digest") or digest
    if digest is None:
        raise RuntimeFailure(f"push: {repository}:{version} reported no digest — check the registry")
    return replace(image, pushed=f"{repository}@{digest}")
