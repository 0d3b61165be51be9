"""Dataset loading, offline synthetic generation and canonical content hashing."""
