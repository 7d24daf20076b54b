"""The soak run's parts (benchmarks/soak.py runs them): callers, the CRM, the daemon, the calls."""
