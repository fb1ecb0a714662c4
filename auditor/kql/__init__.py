"""The versioned KQL query catalog: loading, KQL-safe rendering and the release lock."""
