"""Tooling over the core: command-line programs and process launchers (not imported by it).

`ring_demo` starts N local processes and runs `lcedu.attention.ring_distributed` in them.
"""
