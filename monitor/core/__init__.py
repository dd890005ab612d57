"""Shared leaves: the error tree, the records passed between stages, the lazy-import helper."""
