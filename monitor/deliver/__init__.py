"""Digests: what is shown, rendered for Telegram and email, sent through the outbox."""
