"""Settings from the environment (prefix MONITOR_) or a `.env` file, declared once.

This table is the single list of settings: the CLI reads it, validation comes from it, and a test
checks that every field appears in the README and in `deploy/env.example`. Secrets (the bot token,
the SMTP password) are read from the environment only and never printed: see `Settings.safe_dump`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from monitor import __version__


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MONITOR_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    sources: Path = Field(Path("sources.yaml"), description="Path of sources.yaml.")
    topics: Path = Field(
        Path("topics.yaml"), description="Relevance and topic rules the operator edits."
    )
    seeds_dir: Path = Field(
        Path("seeds"), description="The seed corpus: documents and their manifest seeds.yaml."
    )
    data_dir: Path = Field(
        Path("storage"), description="Runtime data: archive database, WARC captures, digests."
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the archive; default sqlite:///<data_dir>/archive.db.",
    )
    contact_url: str = Field(
        "https://github.com/az-kz-monitor/az-kz-monitor",
        description="URL named in the User-Agent so site operators can reach you. Set your own.",
    )
    user_agent: str | None = Field(
        None, description="Full User-Agent override; default names the project and contact_url."
    )
    allow_private_hosts: bool = Field(
        False,
        description="Allow fetching hosts that resolve to private/loopback/link-local addresses.",
    )
    max_body_bytes: int = Field(
        5_000_000, description="Largest body accepted, after decompression."
    )
    max_sitemap_bytes: int = Field(
        50_000_000,
        gt=0,
        description="Largest sitemap body accepted, after decompression: sitemaps are read as a "
        "stream, so only the URLs kept are held, not the parsed document.",
    )
    max_sitemap_urls_per_poll: int = Field(
        5000,
        ge=1,
        description="Most article URLs taken from one sitemap per poll, the newest; the rest are "
        "counted as left out.",
    )
    connect_timeout: float = Field(10.0, description="Seconds to open a connection.")
    read_timeout: float = Field(30.0, description="Seconds to wait for data on an open connection.")
    retries: int = Field(3, description="Retries after the first attempt, for retryable failures.")
    retry_base_delay: float = Field(
        2.5, description="First retry delay in seconds; doubles each try."
    )
    retry_max_delay: float = Field(
        60.0, description="Longest wait between retries (Retry-After too)."
    )
    per_host_concurrency: int = Field(2, description="Requests in flight at once to one host.")
    per_host_delay: float = Field(
        1.2, description="Least seconds between request starts to one host."
    )
    max_redirects: int = Field(5, description="Redirects followed before giving up.")
    robots_ttl: int = Field(86_400, description="Seconds a fetched robots.txt is trusted.")
    max_articles_per_poll: int = Field(
        60, description="Most new article pages fetched per source and poll (the rest wait)."
    )
    admin_chat_id: str | None = Field(
        None, description="Telegram chat for alerts to the operator (a site breaks, recovers)."
    )
    admin_email: str | None = Field(None, description="Address for the same alerts by email.")
    alert_after_failures: int = Field(
        3, description="Failed polls in a row (or polls extracting nothing) before an alert."
    )
    metrics_port: int | None = Field(
        None, description="Serve Prometheus metrics on 127.0.0.1 at this port (off when unset)."
    )
    log_format: Literal["text", "json"] = Field("text", description="Log line format.")
    log_level: str = Field("INFO", description="Logging level.")
    telegram_token: SecretStr | None = Field(None, description="Telegram bot token (secret).")
    telegram_chat_id: str | None = Field(None, description="Channel or chat for the digest.")
    telegram_api_url: str = Field(
        "https://api.telegram.org", description="Base URL of the Bot API server (self-hosted too)."
    )
    telegram_rate_per_minute: int = Field(20, description="Most messages a minute to one chat.")
    telegram_instant_score: float | None = Field(
        None, description="Post an item at once when its relevance score is at least this."
    )
    digest_timezone: str = Field("Asia/Baku", description="Time zone of the digest schedules.")
    telegram_digest_hours: str = Field(
        "8-22/2", description="Hours (cron syntax) of the Telegram digest, in digest_timezone."
    )
    email_digest_day: str = Field("mon", description="Day of the weekly email (cron syntax).")
    email_digest_hour: int = Field(9, description="Hour of the weekly email, in digest_timezone.")
    delivery_max_attempts: int = Field(8, description="Attempts before a delivery is failed.")
    smtp_host: str | None = Field(None, description="SMTP server for the weekly email.")
    smtp_port: int | None = Field(None, description="SMTP port; default by smtp_tls (25/587/465).")
    smtp_user: str | None = Field(None, description="SMTP user name (AUTH when set).")
    smtp_password: SecretStr | None = Field(None, description="SMTP password (secret).")
    smtp_tls: Literal["none", "starttls", "ssl"] = Field("starttls", description="SMTP security.")
    email_from: str | None = Field(None, description="From address of the weekly email.")
    email_to: str | None = Field(None, description="Recipients, comma-separated.")
    web_host: str = Field("127.0.0.1", description="Address `monitor web` listens on.")
    web_port: int = Field(8080, description="Port of `monitor web`.")
    web_user: str | None = Field(
        None, description="HTTP basic auth user of `monitor web` (required beyond loopback)."
    )
    web_password: SecretStr | None = Field(
        None, description="HTTP basic auth password of `monitor web` (secret)."
    )
    bot_chat_ids: str | None = Field(
        None,
        description="Chats where the bot answers /latest, /search, /topics; comma-separated ids.",
    )
    bot_admin_ids: str | None = Field(
        None, description="Telegram user ids allowed /status, comma-separated (admins)."
    )
    backfill_delay: float = Field(
        5.0, description="Least seconds between two listing pages a backfill reads."
    )
    analysis_workers: int | None = Field(
        None,
        ge=0,
        description="Processes extracting, sketching and tagging pages; unset: one per CPU, "
        "0: in the monitor's own process.",
    )
    analysis_timeout: float = Field(
        20.0, gt=0, description="Most seconds one page's analysis may take before it is refused."
    )
    analysis_memory_mb: int = Field(
        512,
        gt=0,
        description="Most MB one page's analysis may add to a worker before it is refused.",
    )

    @property
    def bot_chats(self) -> list[str]:
        return [part.strip() for part in (self.bot_chat_ids or "").split(",") if part.strip()]

    @property
    def bot_admins(self) -> list[str]:
        return [part.strip() for part in (self.bot_admin_ids or "").split(",") if part.strip()]

    @property
    def digests_dir(self) -> Path:
        return self.data_dir / "digests"

    @property
    def email_recipients(self) -> list[str]:
        return [part.strip() for part in (self.email_to or "").split(",") if part.strip()]

    @property
    def archive_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'archive.db').as_posix()}"

    @property
    def warc_dir(self) -> Path:
        return self.data_dir / "warc"

    @property
    def effective_user_agent(self) -> str:
        if self.user_agent:
            return self.user_agent
        # "Mozilla/5.0 (compatible; ...)" passes sites that refuse non-browser agents (AZERTAC
        # answers 400 without one) while still saying plainly who is fetching.
        return f"Mozilla/5.0 (compatible; az-kz-monitor/{__version__}; +{self.contact_url})"

    def safe_dump(self) -> dict[str, object]:
        """Settings as a dict fit for logs and `monitor status`: secrets masked."""
        shown: dict[str, object] = {}
        for name, value in self.model_dump().items():
            if isinstance(getattr(self, name), SecretStr):
                shown[name] = "***" if value else None
            else:
                shown[name] = str(value) if isinstance(value, Path) else value
        return shown
