"""The command line: Typer only. Each command builds settings, calls one procedure, renders the result.

Errors are caught in one place (:class:`KafkaopsGroup`): a :class:`KafkaopsError` becomes a one-line
message with a hint on stderr and its documented exit code; Ctrl+C exits 130 without a traceback.
"""

from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    # typer vendors click and exports no base Context; the group's context is that one, not a typer.Context.
    from typer._click import Command as ClickCommand
    from typer._click import Context as ClickContext

    from kafkaops.settings import Settings

from kafkaops import __version__
from kafkaops.errors import ExitCode, KafkaopsError


def _load_settings(flags: Mapping[str, object | None], env_file: Path | None) -> "Settings":
    from kafkaops.settings import load_settings

    return load_settings(flags, env_file=env_file)


@dataclass
class App:
    """What the root command hands every command (on ``ctx.obj``): the root's flags and how settings are built.

    Tests may pass their own (``CliRunner().invoke(app, args, obj=App(settings_factory=...))``); the root
    fills in its flags and keeps the factory. Output goes through :mod:`kafkaops.ui`, whose consoles
    (``ui.out`` for data, ``ui.err`` for talk) a test swaps there.
    """

    settings_factory: Callable[[Mapping[str, object | None], Path | None], "Settings"] = _load_settings
    env_file: Path | None = None
    flags: dict[str, object | None] = field(default_factory=dict)
    traceback: bool = False

    warned: set[str] = field(default_factory=set)

    def settings(self, **flags: object) -> "Settings":
        """The settings for one command: the root's flags, overridden by the command's own that were given.

        Their warnings (a profile file others can read, Java-only client keys dropped) go to stderr, once.
        """
        merged = dict(self.flags)
        merged.update({k: v for k, v in flags.items() if v is not None})
        settings = self.settings_factory(merged, self.env_file)
        news = [w for w in getattr(settings, "warnings", ()) if w not in self.warned]
        if news:
            from kafkaops import ui

            for warning in news:
                ui.warn(warning)
            self.warned.update(news)
        return settings


# Each top-level command and the kafkaops.cli module whose register() adds it, in the order --help lists
# them (Typer lists the root's own commands first, then the groups). A module is imported, and its
# commands built, only when one of its commands is asked for: `kafkaops topics list` builds the topics
# group alone, not all nineteen (that took ~20 ms of every short command); --help still lists them all.
COMMANDS: dict[str, str] = {
    "install": "install",
    "up": "stack",
    "down": "stack",
    "status": "stack",
    "logs": "stack",
    "doctor": "doctor",
    "consume": "consume",
    "reset": "reset",
    "runbook": "runbook",
    "produce": "produce",
    "migrate": "migrate",
    "upgrade": "upgrade",
    "bundle": "bundle",
    "groups": "groups",
    "topics": "topics",
    "db": "db",
    "profile": "profile",
    "connect": "connect",
    "cdc": "cdc",
}


def build_commands(module_name: str) -> dict[str, "ClickCommand"]:
    """The commands one CLI module registers, built as the root app would build them."""
    import importlib

    import typer.main

    module = importlib.import_module(f"kafkaops.cli.{module_name}")
    holder = typer.Typer(
        add_completion=False,
        rich_markup_mode=app.rich_markup_mode,
        pretty_exceptions_short=app.pretty_exceptions_short,
        suggest_commands=app.suggest_commands,
    )
    holder.callback()(lambda: None)  # always a group, even for a module with one command
    module.register(holder)
    group = typer.main.get_command(holder)
    assert isinstance(group, TyperGroup)
    return dict(group.commands)


class _Commands(MutableMapping[str, "ClickCommand"]):
    """The root group's commands: every name known at once (help, completion, "did you mean"), each built on first use."""

    def __init__(self, built: Mapping[str, "ClickCommand"]) -> None:
        self._built = dict(built)

    def __getitem__(self, name: str) -> "ClickCommand":
        if name not in self._built and name in COMMANDS:
            self._built.update(build_commands(COMMANDS[name]))
        return self._built[name]

    def __setitem__(self, name: str, command: "ClickCommand") -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter([*COMMANDS, *(n for n in self._built if n not in COMMANDS)])

    def __len__(self) -> int:
        return len(COMMANDS) + sum(n not in COMMANDS for n in self._built)


class KafkaopsGroup(TyperGroup):
    """The root group: builds each command when it is asked for, and turns kafkaops errors into messages and exit codes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = _Commands(self.commands)

    def list_commands(self, ctx: "ClickContext") -> list[str]:
        return list(self.commands)  # the names only: listing them builds nothing

    def invoke(self, ctx: "ClickContext") -> Any:
        from kafkaops import ui
        from kafkaops.redact import redact_text

        try:
            return super().invoke(ctx)
        except KafkaopsError as exc:
            ui.error(exc)
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            ui.info("interrupted")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except Exception as exc:
            if isinstance(ctx.obj, App) and ctx.obj.traceback:
                raise
            if type(exc).__module__.startswith(("typer", "click")):
                raise
            ui.error(
                KafkaopsError(
                    f"unexpected {type(exc).__name__}: {redact_text(str(exc))}",
                    hint="rerun with --traceback for the full story, and report it",
                )
            )
            raise typer.Exit(int(ExitCode.ERROR)) from None


app = typer.Typer(
    name="kafkaops",
    cls=KafkaopsGroup,
    help=(
        "Run a local Kafka pipeline (ZooKeeper, a broker, the db_live_events topic, a PostgreSQL "
        "producer and console consumers) with commands that wait for real readiness and explain failures.\n\n"
        "Settings come from flags, then the environment, then a .env file, then the profile (`kafkaops profile`), then defaults "
        "(see .env.example). Any librdkafka client setting: -X key=value or --client-config FILE."
    ),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    pretty_exceptions_enable=False,
    add_completion=True,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kafkaops {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    env_file: Annotated[Path | None, typer.Option("--env-file", help="Read settings from this .env file (default: ./.env if present).")] = None,
    kafka_home: Annotated[Path | None, typer.Option("--kafka-home", help="A Kafka installation (env KAFKA_HOME).")] = None,
    kafkaops_home: Annotated[Path | None, typer.Option("--kafkaops-home", help="kafkaops's state folder (env KAFKAOPS_HOME).")] = None,
    broker: Annotated[str | None, typer.Option("--broker", "-b", help="Bootstrap host:port (env KAFKA_BROKER).")] = None,
    zookeeper: Annotated[str | None, typer.Option("--zookeeper", help="ZooKeeper host:port (env ZOOKEEPER_CONNECT).")] = None,
    profile: Annotated[
        str | None, typer.Option("--profile", help="Use this profile from profiles.toml (env KAFKAOPS_PROFILE; see `kafkaops profile`).")
    ] = None,
    client_x: Annotated[
        list[str] | None,
        typer.Option(
            "-X", help="A librdkafka client setting key=value for every Kafka client (repeatable; wins over all else), e.g. -X sasl.mechanism=SCRAM-SHA-512."
        ),
    ] = None,
    client_config: Annotated[
        Path | None,
        typer.Option("--client-config", help="A Java-properties client config (the --command-config file of Kafka's scripts) (env KAFKAOPS_CLIENT_CONFIG)."),
    ] = None,
    traceback: Annotated[bool, typer.Option("--traceback", help="Show the full Python traceback on errors.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    obj = ctx.obj if isinstance(ctx.obj, App) else App()
    obj.traceback = traceback
    obj.env_file = env_file
    obj.flags = {
        "kafka_home": kafka_home,
        "kafkaops_home": kafkaops_home,
        "kafka_broker": broker,
        "zookeeper_connect": zookeeper,
        "profile": profile,
        "client_config": client_config,
        "client_x": tuple(client_x) if client_x else None,
    }
    ctx.obj = obj


def get_app(ctx: typer.Context) -> App:
    """The application object the root command put on the context (a default one outside the root)."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, App) else App()


def get_settings(ctx: typer.Context, **flags: object) -> "Settings":
    """The settings for this command: the root's flags plus the command's own."""
    return get_app(ctx).settings(**flags)


def main() -> None:
    app(prog_name="kafkaops")


def run() -> None:
    """The program (console script and ``python -m kafkaops``): :func:`main`, then ``gc.freeze()`` on the way out.

    Frozen objects are left out of the garbage collector's passes, so the interpreter's last full pass at
    exit (~10-20 ms over the ~200 modules a command imports, more than `topics list` spends on its
    broker round trip) is skipped; the exit code, output and flushes are the same. What it gives up:
    objects left in reference cycles at exit are not collected, so their ``__del__`` does not run, which
    Python never promised at exit anyway; every client kafkaops opens is closed where it is used.
    """
    import gc

    try:
        main()
    finally:
        gc.freeze()
