"""loomctl, the host side: CLI, manifests, pins, images, runtimes, diff, audit. Never imports torch."""

__version__ = "0.1.0"
