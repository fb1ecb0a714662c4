"""Data sources: where query text is run (an offline snapshot, Azure Resource Graph, Log Analytics)."""
