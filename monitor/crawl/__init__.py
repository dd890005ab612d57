"""The first stage: polite HTTP, robots.txt, bounded bodies, charsets, URLs, discovery."""
