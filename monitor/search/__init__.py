"""Full-text search over the archive: word analysis, the query language, snippets; export."""
