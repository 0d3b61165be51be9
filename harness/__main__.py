"""Entry point inside the image (and of the local runtime): `python -m harness run|judge --run-dir D ...`."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from loomcore.errors import EXIT_RUNTIME_FAILURE, LoomError, RuntimeFailure


def stop_on_sigterm() -> None:
    """SIGTERM (``docker stop`` after Ctrl-C, a scheduler's kill) ends the step at once, as an error:
    finished samples are already on disk. As PID 1 of a container a process without a handler never
    gets SIGTERM (the kernel drops it), and would run on until the SIGKILL that follows."""
    def stop(signum, frame):
        raise RuntimeFailure("harness: stopped by SIGTERM — finished samples are kept; run the same command to resume")

    signal.signal(signal.SIGTERM, stop)


def guarded(step: Callable[[], object]) -> int:
    """Run a step; the project's errors become their exit codes, anything else exit 3."""
    try:
        step()
    except LoomError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return exc.exit_code
    except Exception as exc:
        if os.environ.get("LOOMCTL_DEBUG"):
            raise
        print(f"harness: runtime failure: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_RUNTIME_FAILURE
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the effective manifest of a run directory")
    run.add_argument("--run-dir", type=Path, required=True)
    run.add_argument("--model-dir", type=Path, required=True)
    run.add_argument("--root", type=Path, required=True, help="the manifest's folder (relative paths)")
    run.add_argument("--data-dir", type=Path)
    run.add_argument("--allow-accelerator-mismatch", action="store_true")
    run.add_argument("--no-hash-cache", action="store_true", help="hash every weight byte (no cached digests)")
    judge = sub.add_parser("judge", help="compute the judge metrics of a finished run directory")
    judge.add_argument("--run-dir", type=Path, required=True)
    judge.add_argument("--root", type=Path, required=True, help="the manifest's folder (judges' relative paths)")
    judge.add_argument("--judge", action="append", default=[], metavar="NAME=DIR",
                       help="the local folder of judge NAME (instead of its pinned path)")
    judge.add_argument("--runtime", default='{"kind": "local"}', metavar="JSON",
                       help="where this pass runs, as loomctl's runtime describes itself (recorded)")
    args = parser.parse_args(argv)
    stop_on_sigterm()
    if args.command == "judge":
        from harness.judge_run import judge_run, parse_judge_dirs, parse_runtime

        return guarded(lambda: judge_run(args.run_dir, args.root, parse_judge_dirs(args.judge),
                                         parse_runtime(args.runtime)))
    from harness import run as pipeline

    return guarded(lambda: pipeline.run(args.run_dir, args.model_dir, args.root, args.data_dir,
                                        args.allow_accelerator_mismatch, hash_cache=not args.no_hash_cache))


if __name__ == "__main__":
    sys.exit(main())
