"""A tiny decoder-only language model with pluggable position schemes, and its training loop."""
