"""`python -m bot` is the same as the `tipoff` command."""

from bot.cli import main

raise SystemExit(main())
