"""kafkaops profile list | show | add | use | remove: named clusters in profiles.toml."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from kafkaops.profiles import Profile, Value

profile_app = typer.Typer(
    name="profile",
    help=(
        "Named profiles (broker, ZooKeeper, database URL, topic, client settings) in one TOML file in your user config "
        "folder (KAFKAOPS_CONFIG_DIR overrides it). Pick one with --profile NAME or KAFKAOPS_PROFILE, or make one the "
        "default with `profile use`. Flags, the environment and .env win over the profile. Secrets stay outside the "
        "file: --secret-env KEY=VARIABLE or --secret-file KEY=PATH; list and show never print one."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    app.add_typer(profile_app, name="profile")


def _path(ctx: typer.Context) -> Path:
    """profiles.toml: KAFKAOPS_CONFIG_DIR from the environment or the .env file, else the user config folder."""
    import os

    from kafkaops.cli import get_app
    from kafkaops.profiles import profiles_path
    from kafkaops.settings import _dotenv_file, read_env_file

    dotenv_path = _dotenv_file(get_app(ctx).env_file, Path.cwd())
    dotenv = read_env_file(dotenv_path) if dotenv_path else {}
    return profiles_path({**dotenv, **{k: v for k, v in os.environ.items() if v}})


def _warn_permissions(path: Path) -> None:
    from kafkaops import ui
    from kafkaops.profiles import loose_permissions

    warning = loose_permissions(path)
    if warning:
        ui.warn(warning)


@profile_app.command("list")
def list_(
    ctx: typer.Context,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """List the profiles: name, default, broker, topic, security protocol (never a secret).

    Example: kafkaops profile list
    """
    from kafkaops import ui
    from kafkaops.profiles import describe, read_file

    found = read_file(_path(ctx))
    _warn_permissions(found.path)
    rows = [describe(p, found.default) for p in found.profiles.values()]
    if json_:
        ui.print_json({"file": str(found.path), "default": found.default, "profiles": rows})
        return
    if not rows:
        ui.info(f"no profiles in {found.path}; add one with: kafkaops profile add NAME --broker HOST:PORT")
        return
    ui.print_table(
        None,
        ["PROFILE", "DEFAULT", "BROKER", "TOPIC", "SECURITY"],
        [(r["name"], "*" if r["default"] else "", r.get("broker", ""), r.get("topic", ""), r["client"].get("security.protocol", "")) for r in rows],
    )
    ui.info(f"profiles in {found.path}")


@profile_app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="The profile (default: --profile, KAFKAOPS_PROFILE, else the default profile).")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """Show one profile's settings; secrets print as env:NAME / file:PATH references or ***.

    Example: kafkaops profile show prod
    """
    import os

    from kafkaops import ui
    from kafkaops.cli import get_app
    from kafkaops.errors import UsageError
    from kafkaops.profiles import describe, read_file

    found = read_file(_path(ctx))
    _warn_permissions(found.path)
    name = name or str(get_app(ctx).flags.get("profile") or "") or os.environ.get("KAFKAOPS_PROFILE") or found.default
    if not name:
        raise UsageError(
            f"no profile named and no default profile in {found.path}", hint="name one (kafkaops profile show NAME) or set a default: kafkaops profile use NAME"
        )
    data = describe(found.get(name), found.default)
    if json_:
        ui.print_json({"file": str(found.path), **data})
        return
    lines = [f"{key} = {value}" for key, value in data.items() if key not in ("name", "default", "client")]
    lines += [f"client.{key} = {value}" for key, value in data["client"].items()]
    ui.print_lines([f"profile {name}" + (" (default)" if data["default"] else ""), *lines])


def _pairs(option: str, items: list[str] | None) -> dict[str, str]:
    from kafkaops.errors import UsageError

    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value:
            raise UsageError(f"{option} {item.split('=')[0]!r} is not KEY=VALUE", hint=f"e.g. {option} sasl.password=PROD_KAFKA_PASSWORD")
        out[key.strip()] = value
    return out


def _build(name: str, fields: dict[str, str | None], x: list[str] | None, secret_env: list[str] | None, secret_file: list[str] | None) -> "Profile":
    from kafkaops.profiles import FIELDS, Profile, Ref

    values: dict[str, Value] = {k: v for k, v in fields.items() if v}
    client: dict[str, Value] = dict(_pairs("-X", x))
    for kind, items in (("env", secret_env), ("file", secret_file)):
        for key, target in _pairs(f"--secret-{kind}", items).items():
            ref = Ref(kind, target if kind == "env" else str(Path(target).expanduser().absolute()))
            (values if key in FIELDS else client)[key] = ref
    return Profile(name, values, client)


@profile_app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The profile's name.")],
    broker: Annotated[str | None, typer.Option("--broker", "-b", help="Bootstrap host:port.")] = None,
    zookeeper: Annotated[str | None, typer.Option("--zookeeper", help="ZooKeeper host:port (optional).")] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="PostgreSQL URL without a password (use --secret-env database_url=VAR for one).")
    ] = None,
    topic: Annotated[str | None, typer.Option("--topic", help="The pipeline's topic.")] = None,
    client_config: Annotated[Path | None, typer.Option("--client-config", help="A Java-properties client config file the profile uses.")] = None,
    x: Annotated[list[str] | None, typer.Option("-X", help="A librdkafka client setting key=value to store (repeatable); no secrets.")] = None,
    secret_env: Annotated[
        list[str] | None, typer.Option("--secret-env", help="KEY=VARIABLE: read KEY (e.g. sasl.password) from this environment variable.")
    ] = None,
    secret_file: Annotated[list[str] | None, typer.Option("--secret-file", help="KEY=PATH: read KEY from the first line of this file.")] = None,
    make_default: Annotated[bool, typer.Option("--use", help="Also make it the default profile.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace a profile of the same name.")] = False,
) -> None:
    """Add a profile (the file is created readable by you only).

    Example: kafkaops profile add prod -b kafka1:9093 -X security.protocol=SASL_SSL -X sasl.mechanism=SCRAM-SHA-512 -X sasl.username=alice --secret-env sasl.password=PROD_KAFKA_PASSWORD
    """
    from kafkaops import profiles as prof
    from kafkaops import ui

    fields = {"broker": broker, "zookeeper": zookeeper, "database_url": database_url, "topic": topic}
    fields["client_config"] = str(client_config.expanduser().absolute()) if client_config else None
    written = prof.add(_path(ctx), _build(name, fields, x, secret_env, secret_file), replace=force, make_default=make_default)
    ui.success(f"profile {name} saved in {written.path}" + (" (the default)" if written.default == name else f"; use it with --profile {name}"))


@profile_app.command("use")
def use(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="The profile to use by default.")] = None,
    none: Annotated[bool, typer.Option("--none", help="Use no profile by default.")] = False,
) -> None:
    """Make a profile the default for every command (KAFKAOPS_PROFILE and --profile still win).

    Example: kafkaops profile use prod
    """
    from kafkaops import profiles as prof
    from kafkaops import ui
    from kafkaops.errors import UsageError

    if (name is None) == (not none):
        raise UsageError("name a profile, or give --none (not both)", hint="kafkaops profile use NAME  |  kafkaops profile use --none")
    written = prof.use(_path(ctx), None if none else name)
    ui.success(f"default profile: {name} ({written.path})" if name else f"no default profile ({written.path})")


@profile_app.command("remove")
def remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The profile to remove.")],
) -> None:
    """Remove a profile from the file (secrets it refers to are not touched).

    Example: kafkaops profile remove old-staging
    """
    from kafkaops import profiles as prof
    from kafkaops import ui

    written = prof.remove(_path(ctx), name)
    ui.success(f"profile {name} removed from {written.path}")
