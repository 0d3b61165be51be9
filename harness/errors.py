"""The error types that map to loomctl's exit codes; raised anywhere, turned into exits only by the CLI.

Exit codes are a contract CI depends on: 0 ok, 1 a check failed (drift, regression), 2 invalid
input (schema, missing file, hash mismatch), 3 runtime failure (engine crash, out of memory).
"""

from __future__ import annotations

EXIT_OK = 0
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


class CheckFailed(LoomError):
    exit_code = EXIT_CHECK_FAILED


class RuntimeFailure(LoomError):
    exit_code = EXIT_RUNTIME_FAILURE
