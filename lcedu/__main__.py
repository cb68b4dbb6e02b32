"""`python -m lcedu ...`: the `lcedu` command, for machines where it is not on PATH."""

import sys

from lcedu.cli import main

sys.exit(main())
