"""What every CLI command shares: loading settings/config once, and turning errors into exit codes.

Exit codes: 0 ok, 1 failed, 2 config error (nothing done), 3 completed with rejected rows or
failed pushes.

Nothing heavy is imported at module level here or in any ``sugar_bridge.cli`` module: the whole
command tree is built for ``--version`` and ``--help``, which must stay instant, so settings,
the config, the warehouse and the models are imported by the commands that use them.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import typer

from sugar_bridge.cli.output import report_problem
from sugar_bridge.exceptions import ConfigError
from sugar_bridge.logs import SecretMaskingFilter, setup_logging

if TYPE_CHECKING:
    from sugar_bridge.config import ProjectConfig
    from sugar_bridge.settings import Settings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_PARTIAL = 3

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Context:
    """Settings and (lazily) the config, loaded once per command."""

    settings: Settings
    masking: SecretMaskingFilter
    _config: ProjectConfig | None = field(default=None, repr=False)

    @property
    def config(self) -> ProjectConfig:
        if self._config is None:
            from sugar_bridge.config import load_config

            self._config = load_config(self.settings.config)
        return self._config


def make_context() -> Context:
    """Load settings, set up logging with the known secrets masked."""
    from sugar_bridge.settings import load_settings

    settings = load_settings()
    secrets: list[str] = []
    if settings.sugar_password is not None:
        import hashlib

        plain = settings.sugar_password.get_secret_value()
        secrets += [plain, hashlib.md5(plain.encode()).hexdigest()]  # noqa: S324 - Sugar's login hash
    if settings.warehouse_url is not None:
        from sqlalchemy.engine import make_url

        password = make_url(settings.warehouse_url.get_secret_value()).password
        if password:
            secrets.append(str(password))
    masking = setup_logging(settings.log_level, settings.log_format, secrets)
    return Context(settings=settings, masking=masking)


def quiet_library_logs(settings: Settings) -> None:
    """For a command that reports its own steps: library INFO lines would repeat them.

    Only with plain logs at the default level: warnings still show, the CLI's own progress lines
    too, and an explicit ``SUGAR_BRIDGE_LOG_LEVEL`` or JSON logs keep every record.
    """
    if settings.log_format == "plain" and "log_level" not in settings.model_fields_set:
        logging.getLogger().setLevel(logging.WARNING)
        logging.getLogger("sugar_bridge.cli").setLevel(logging.INFO)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Run a command; map our exceptions to a one-line message and an exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            report_problem("config error", str(exc))
            raise typer.Exit(EXIT_CONFIG) from None
        except Exception as exc:
            if isinstance(exc, _known_errors()):
                logging.getLogger("sugar_bridge").debug("command failed", exc_info=True)
                report_problem("error", str(exc))
                raise typer.Exit(EXIT_FAILED) from None
            # The sandbox's errors are a tree of their own (it stands apart from the bridge). Its
            # package is imported only now, on an error: commands that never start a sandbox do
            # not pay for loading it.
            from sugar_bridge.sandbox.exceptions import SandboxConfigError, SandboxError

            if not isinstance(exc, SandboxError):
                raise
            config = isinstance(exc, SandboxConfigError)
            label = "config error" if config else "error"
            report_problem(label, str(exc))
            raise typer.Exit(EXIT_CONFIG if config else EXIT_FAILED) from None

    return wrapper


def _known_errors() -> tuple[type[Exception], ...]:
    """The exception roots a command turns into "error: ..." and exit code 1.

    Imported when an exception is being handled, not with the CLI: ``etl`` and ``analytics``
    import pandas and SQLAlchemy with their packages, and by then the command has loaded them.
    """
    from analytics.exceptions import AnalyticsError
    from connectors.orders.exceptions import SourceError
    from connectors.sugar.exceptions import SugarError
    from etl.exceptions import EtlError
    from sugar_bridge.exceptions import SugarBridgeError

    return (SugarBridgeError, SugarError, EtlError, SourceError, AnalyticsError)
