"""Sketches of a text (MinHash, winnowed fingerprints) and the decision what is a copy."""
