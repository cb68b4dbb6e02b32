"""`python -m lcedu ...`: the `lcedu` command without installing the package (e.g. on a bare
GPU machine, from a checkout: `PYTHONPATH=. python3 -m lcedu gpu-report OUTDIR`)."""

from lcedu.cli import main

raise SystemExit(main())
