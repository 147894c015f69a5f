"""``python -m bot`` is the same CLI as ``errandbot``."""

from bot.cli import main

raise SystemExit(main())
