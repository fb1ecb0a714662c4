"""Evidence: the atomic pack writer, the hash manifest, signatures and verification."""
