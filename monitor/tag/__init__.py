"""Relevance to Azerbaijan–Kazakhstan relations, topics and entities, by the operator's rules."""
