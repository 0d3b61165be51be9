"""The harness: what runs where the model runs (data, prompts, truncation, engines, metrics, records)."""

__version__ = "0.1.0"
