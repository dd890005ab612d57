"""Settings are declared once; every one of them is documented, and secrets never leak."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config.settings import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_in_the_readme(name: str) -> None:
    assert f"MONITOR_{name.upper()}" in README


def test_secrets_are_masked_in_dumps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_TELEGRAM_TOKEN", "123456:secret-token-value")
    monkeypatch.setenv("MONITOR_SMTP_PASSWORD", "hunter2")
    settings = Settings()
    dumped = str(settings.safe_dump()) + repr(settings)
    assert "secret-token-value" not in dumped and "hunter2" not in dumped
    assert settings.telegram_token is not None
    assert settings.telegram_token.get_secret_value() == "123456:secret-token-value"


def test_archive_defaults_to_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.archive_url == f"sqlite:///{tmp_path.as_posix()}/archive.db"
    assert "az-kz-monitor" in settings.effective_user_agent
    assert settings.contact_url in settings.effective_user_agent
