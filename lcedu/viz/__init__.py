"""Matplotlib figure functions: stateless, each returns a Figure of what the core computes."""
