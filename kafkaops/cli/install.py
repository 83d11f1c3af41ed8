"""kafkaops install."""

from typing import TYPE_CHECKING, Annotated

import typer

from kafkaops.defaults import DEFAULT_MIRROR

if TYPE_CHECKING:
    from kafkaops.settings import Settings


def register(app: typer.Typer) -> None:
    app.command("install")(install)


def install(
    ctx: typer.Context,
    version: Annotated[
        str | None,
        typer.Option(
            "--version", help="Kafka version (3.9.x: ZooKeeper mode; 4.x: KRaft). Default: KAFKAOPS_KAFKA_VERSION, else 3.9.2 (4.4.0 with --mode kraft)."
        ),
    ] = None,
    mode: Annotated[
        str | None,
        typer.Option("--mode", help="zookeeper or kraft (env KAFKAOPS_MODE): which Kafka line to install when --version is not given."),
    ] = None,
    source: Annotated[
        str,
        typer.Option("--source", help="maven: resolve the jars from Maven Central with mvn. apache: download the release tarball and check its SHA-512."),
    ] = "maven",
    mirror: Annotated[str, typer.Option("--mirror", help="Base URL of an Apache mirror (for --source apache).")] = DEFAULT_MIRROR,
    force: Annotated[bool, typer.Option("--force", help="Install again even if this version is already installed.")] = False,
    with_: Annotated[
        list[str] | None,
        typer.Option(
            "--with",
            help="Also install: connect (the Kafka Connect runtime of this Kafka version, or of 4.3.0, the line Debezium runs on, "
            "for a 4.4 stack; and Debezium's PostgreSQL plugin; from Maven Central, under KAFKAOPS_CONNECT_HOME).",
        ),
    ] = None,
) -> None:
    """Install a real Apache Kafka (and its ZooKeeper) under KAFKAOPS_HOME, with configs for a local pipeline.

    Example: kafkaops install            (Kafka 3.9.2 from Maven Central, ZooKeeper mode)
    Example: kafkaops install --mode kraft   (Kafka 4.4.0, one combined KRaft broker+controller node)
    Example: kafkaops install --with connect   (also Kafka Connect and Debezium, for `kafkaops connect up` and `kafkaops cdc`)
    """
    extras = set(with_ or ())
    if extras - {"connect"}:
        from kafkaops.errors import UsageError

        raise UsageError(f"--with {sorted(extras - {'connect'})[0]}: unknown part", hint="the only part is: --with connect")
    from kafkaops import ui
    from kafkaops.adapters.java import find_java
    from kafkaops.cli import get_settings
    from kafkaops.procedures.install import install as do_install

    settings = get_settings(ctx, kafka_version=version, mode=mode)
    java = find_java(settings.java)
    with ui.spinner(f"installing Kafka {settings.kafka_version} ({source})") as status:
        result = do_install(
            dists_dir=settings.dists_dir,
            data_dir=settings.data_dir,
            version=settings.kafka_version,
            source=source,
            mirror=mirror,
            force=force,
            progress=lambda msg: status.update(msg),
        )
    label = "KRaft mode" if result.mode == "kraft" else "ZooKeeper mode"
    if result.already_installed:
        ui.success(f"Kafka {result.version} ({label}) is already installed in {result.kafka_home} (nothing to do)")
    else:
        ui.success(f"installed Kafka {result.version} ({label}; {result.jars} jars, from {result.source}) in {result.kafka_home}")
    ui.info(f"java: {java.version_line}")
    if extras:
        _install_connect(settings, source, force)
    if settings.sources.get("kafka_home") in ("env", ".env", "flag") and settings.kafka_home != result.kafka_home:
        ui.warn(f"KAFKA_HOME is set to {settings.kafka_home}; kafkaops uses that one, not this install")
    ui.info("next: kafkaops up" + (" --mode kraft (or KAFKAOPS_MODE=kraft)" if result.mode == "kraft" and not settings.kraft else ""))


def _install_connect(settings: "Settings", source: str, force: bool) -> None:
    from kafkaops import ui
    from kafkaops.procedures.connect.install import install_connect

    if source != "maven":
        ui.warn("Connect and Debezium always come from Maven Central (the Apache archive has no Debezium)")
    with ui.spinner(f"installing Kafka Connect for Kafka {settings.kafka_version} and Debezium") as status:
        result = install_connect(settings.connect_home, settings.kafka_version, force=force, progress=lambda msg: status.update(msg))
    done = "is already installed" if result.already_installed else "installed"
    ui.success(
        f"Kafka Connect {result.connect_version} {done} in {result.home} "
        f"({result.runtime_jars} runtime jars; Debezium {result.debezium_version}: {result.plugin_jars} jars in {result.plugin_path})"
    )
    if result.connect_version != result.kafka_version:
        ui.info(
            f"Connect {result.connect_version}, not {result.kafka_version}: the Kafka release Debezium {result.debezium_version} is built for (its workers talk to this broker as clients)"
        )
