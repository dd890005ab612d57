"""Full-text search over the archive: filters and the query language, asking the index, marking
matched words, the search service; export."""
