"""Command line: ``python -m alt42_pipeline <command>`` (also installed as ``alt42``)."""

from .cli import main

raise SystemExit(main())
