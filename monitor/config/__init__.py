"""What the operator edits and sets: settings from the environment, sources.yaml, topics.yaml."""
