"""Long hostile-peer soaks, run by `make chaos` (SIGNAL_RELAY_CHAOS=1); see conftest.py."""
