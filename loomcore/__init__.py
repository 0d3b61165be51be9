"""The kernel both sides share: loomctl (the host) and harness (where the model runs) import it, it
imports neither, and it never imports torch (a test checks all three by import graph).

- ``errors``: the exit-code contract and the errors that carry it;
- ``hashing``: canonical JSON, sample-set, file and model-folder digests, the strict JSON reader;
- ``tokenizer``: the evaluated model's tokenizer (``tokenizers``, no torch) for counting and cutting;
- ``records``: the per-sample ``Record`` and the files that hold them;
- ``rundir``: the run-directory layout — every file name of a run directory, read and written here
  only (reads that never write and never follow a link, atomic writes through fresh temporary
  files, the writer's lock).
"""
