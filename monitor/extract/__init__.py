"""Article text and metadata from a page; the seed corpus cleaned the same way."""
