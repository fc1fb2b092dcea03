"""Runs as processes: starting and queueing them, the device pool, the worker's jobs, sweeps and curves."""
