"""`python -m consumer` is the `signal-relay` command."""

from consumer.cli import main

raise SystemExit(main())
