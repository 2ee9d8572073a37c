"""Hinge Coach core library: index format, embedder, search, answers."""
