"""Snapshots: the on-disk `auditor-snapshot/1` format, the synthetic fleet generator and live capture."""
