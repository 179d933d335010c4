"""Configuration: environment (``CUSTODYD_*``) over an optional TOML file over defaults.

The data directory is ``$CUSTODYD_HOME`` (default: the per-user data dir, e.g.
``~/.local/share/custodyd``; ``/var/lib/custodyd`` under systemd). The TOML file
is ``$CUSTODYD_CONFIG`` or ``$CUSTODYD_HOME/config.toml`` when it exists; its keys
are the field names below (``port = 8787``, ``smtp_url = "smtp://..."``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from custodyd.daemon.home import config_file, default_home

MiB = 1024 * 1024

# A list that may come from the environment as comma-separated text.
CommaList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CUSTODYD_", extra="ignore")

    home: Path = Field(default_factory=default_home)
    database_url: str | None = None  # default: sqlite in home
    store_dir: Path | None = None  # default: home/evidence
    store_url: str | None = None  # s3://bucket/prefix: evidence on S3 with Object Lock

    # imaging
    block_size: int = 16 * MiB
    buffers: int = 4
    piecewise_window: int = 64 * MiB
    # Extra passes over the bad sectors once trimming and scraping are done (as
    # ddrescue's --retry-passes; 0 by default like ddrescue: a dying disk is spared).
    rescue_retries: int = Field(default=0, ge=0, le=100)
    extra_hashes: CommaList = Field(default_factory=list)
    image_format: str = "raw"  # raw | e01: what acquisitions write unless told otherwise
    e01_compression: str = "fast"  # none | fast | best
    e01_segment_size: int = 1500 * MiB  # bytes per .E01/.E02/... segment

    # service
    host: str = "127.0.0.1"
    port: int = 8787
    auto_acquire: str | None = None  # case ref for automatic acquisition
    workers: int = 1
    media_allow: CommaList = Field(default_factory=list)  # serial/wwn/by-path ids always eligible
    media_deny: CommaList = Field(default_factory=list)  # ids never touched
    api_max_body_bytes: int = 1 * MiB  # larger request bodies are refused with 413
    api_header_timeout: float = 10.0  # seconds to send a request's line and headers
    api_body_timeout: float = 30.0  # seconds to send its body once the headers are in
    api_max_connections: int = 512  # open HTTP connections; idle/half-sent ones yield first
    api_keep_alive_timeout: float = 5.0  # idle seconds between requests on one connection
    media_allow_only: bool = False  # True: only devices named in media_allow are media
    acquire_max_bps: int = 0  # cap on the acquisition read rate (0: unlimited)
    blockers_file: Path | None = None  # extra write-blocker ids (default home/blockers.json)
    console_session_minutes: int = 480  # a console sign-in lasts this long at most

    # ledger
    ledger_origin: str = "custodyd.local/ledger"
    ledger_key_name: str = "custodyd"  # this appliance's name in the trust list (unique per lab)
    # directories that each keep the newest checkpoint outside the database (a second
    # disk, a network share); default: one inside home. Every one must be present.
    witness_dirs: Annotated[list[Path], NoDecode] = Field(default_factory=list)

    # alerts
    smtp_url: str | None = None
    alert_from: str = "custodyd@localhost"
    alert_to: CommaList = Field(default_factory=list)
    webhook_url: str | None = None
    webhook_secret: str | None = None
    alert_lead_days: list[int] = Field(default_factory=lambda: [30, 7, 1, 0])
    # the 24/7 point of contact (art. 67): mail addresses and/or http(s) webhook URLs
    contact_247: CommaList = Field(default_factory=list)
    alert_check_seconds: int = 60

    # fixity
    fixity_interval_days: float = 7.0

    @field_validator("witness_dirs", mode="before")
    @classmethod
    def _split_paths(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator(
        "alert_to", "contact_247", "extra_hashes", "media_allow", "media_deny", mode="before"
    )
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file())
        return (init_settings, env_settings, toml)

    # Derived locations -------------------------------------------------
    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'custodyd.db'}"

    @property
    def evidence_dir(self) -> Path:
        return self.store_dir or self.home / "evidence"

    @property
    def key_dir(self) -> Path:
        return self.home / "keys"

    @property
    def witnesses(self) -> list[Path]:
        """Where the ledger's witnessed checkpoint is kept (``witness_dirs`` or home/witness)."""
        return list(self.witness_dirs) or [self.home / "witness"]

    def ensure_dirs(self) -> None:
        """Create the data directory (0700) and the evidence store."""
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.evidence_dir.mkdir(parents=True, exist_ok=True)
