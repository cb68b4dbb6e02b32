"""lcedu — Long Context, hands-on.

The library behind the course's notebooks: attention kernels (dense, sparse, flash, ring),
position schemes (RoPE and its scalings, ALiBi), KV caches, a tiny language model, and the
graders, figures and widgets that teach them. Layers are described in ARCHITECTURE.md.
"""

from lcedu.testing import seed_everything

__version__ = "0.1.0"

__all__ = ["seed_everything", "__version__"]
