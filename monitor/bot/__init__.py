"""The Telegram bot: /latest, /search, /story, /topics, /status."""
