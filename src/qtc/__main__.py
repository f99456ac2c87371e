"""`python -m qtc` runs the command line."""

from qtc.cli import main

raise SystemExit(main())
