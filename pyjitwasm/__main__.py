"""``python -m pyjitwasm``: the command-line interface."""

from pyjitwasm.cli import main

raise SystemExit(main())
