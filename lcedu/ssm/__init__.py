"""State-space models: Mamba's selective scan, a linear-time alternative to attention.

Import from the submodule: ``from lcedu.ssm.scan import selective_scan``.
"""
