"""Articles -> cleaned text -> chunks -> embeddings -> index on disk."""
