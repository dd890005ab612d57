"""The Telegram bot: /latest, /search, /topics, /status."""
