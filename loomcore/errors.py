"""The error types and the exit codes they map to (shared by loomctl and the harness); raised anywhere,
turned into exits only by the entry points.

Exit codes are a contract CI depends on: 0 ok, 1 a check failed (drift, regression), 2 invalid
input (schema, missing file, hash mismatch), 3 runtime failure (engine crash, out of memory).
"""

from __future__ import annotations

EXIT_CHECK_FAILED = 1
EXIT_INVALID_INPUT = 2
EXIT_RUNTIME_FAILURE = 3


class LoomError(Exception):
    """Base class: ``problems`` are one-line ``where: what is wrong — what to do`` messages."""

    exit_code = EXIT_RUNTIME_FAILURE

    def __init__(self, *problems: str):
        super().__init__("\n".join(problems))
        self.problems = list(problems)


class InputError(LoomError):
    exit_code = EXIT_INVALID_INPUT


class RuntimeFailure(LoomError):
    exit_code = EXIT_RUNTIME_FAILURE


def version_mismatch(package: str, pinned: object, installed: object) -> InputError:
    """The refusal of an engine whose installed version is not the pinned one, naming the commands that
    give the pinned environment (a refusal stays a refusal: nothing falls back to what is installed)."""
    return InputError(f"engine/version: the manifest pins {package} {pinned}, this environment has {installed} — "
                      "get the pinned environment with `make install` (the hashed lock locks/host.txt, in .venv) "
                      "or run with `--runtime venv` (a virtual environment built from the image flavour's lock) "
                      "or `--runtime docker`; or re-pin the manifest")
