"""Course tooling: the course map, executing notebooks, generating exercises, `lcedu doctor`.

This package is about the course as files (notebooks, solutions, exercises), not about
attention; nothing in the core imports it.
"""
