"""Text without I/O: normal forms, languages, local dates, paragraphs, datelines, word stems."""
