"""Token counting with the evaluated model's own tokenizer, without importing torch.

Generators and truncation measure lengths in the model's tokens. A model folder with a
``tokenizer.json`` is read with the ``tokenizers`` library directly (fast, no torch); any other
folder falls back to ``transformers.AutoTokenizer`` (which may need the model's extras).

Special tokens (a BOS such as Gemma's ``<bos>``) are added only when asked (``special=True``): then
the tokenizer's own post-processor adds them, exactly as ``AutoTokenizer(text)`` does with its
default ``add_special_tokens=True``. Whether a prompt gets them is the manifest's
``prompt.special_tokens`` (``harness.prompts.adds_special_tokens``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

from loomcore.errors import InputError


class ModelTokenizer:
    """Encode/decode/count with a model's tokenizer; adds special tokens only with ``special=True``."""

    def __init__(self, model_dir: str | Path):
        path = Path(model_dir) / "tokenizer.json"
        if not path.is_file():
            raise InputError(
                f"model.path: no tokenizer.json in {model_dir} — save the tokenizer with "
                f"`save_pretrained` (a fast tokenizer) next to the weights")
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(path))
        self.path = path

    @cached_property
    def sha256(self) -> str:
        from loomcore.hashing import file_sha256

        return file_sha256(self.path)

    def encode(self, text: str, special: bool = False) -> list[int]:
        return self._tok.encode(text, add_special_tokens=special).ids

    def encode_many(self, texts: Sequence[str], special: bool = False) -> list[list[int]]:
        return [e.ids for e in self._tok.encode_batch(list(texts), add_special_tokens=special)]

    @cached_property
    def added_special_tokens(self) -> tuple[str, ...]:
        """The tokens the post-processor adds around a single text (``("<bos>",)`` for Gemma, ``()``
        for a tokenizer that adds none), in order."""
        return tuple(self._tok.encode("", add_special_tokens=True).tokens)

    def decode(self, ids: Sequence[int]) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=False)

    def count(self, text: str, special: bool = False) -> int:
        return len(self.encode(text, special))

    def count_many(self, texts: Sequence[str], special: bool = False) -> list[int]:
        return [len(ids) for ids in self.encode_many(texts, special)]
