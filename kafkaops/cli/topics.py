"""kafkaops topics list | create | describe | alter | delete."""

from typing import Annotated, Any

import typer

from kafkaops.defaults import TOPIC_WAIT_TIMEOUT as WAIT_TIMEOUT
from kafkaops.errors import ExitCode

topics_app = typer.Typer(
    name="topics",
    help="List, create, describe, alter and delete topics through the admin client (no JVM), with guard rails.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

TIMEOUT_HELP = "Seconds to wait for the cluster to reflect the change."


def register(app: typer.Typer) -> None:
    app.add_typer(topics_app, name="topics")


_SOURCES = {
    "DYNAMIC_TOPIC_CONFIG": "topic",
    "STATIC_BROKER_CONFIG": "broker's server.properties",
    "DYNAMIC_BROKER_CONFIG": "broker (dynamic)",
    "DYNAMIC_DEFAULT_BROKER_CONFIG": "cluster default (dynamic)",
}


def _count(n: int | None) -> str:
    return "?" if n is None else str(n)


@topics_app.command("list")
def list_(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", "-a", help="Include internal topics (names starting with '__').")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """List the topics with their partition count and replication factor; internal topics are hidden unless --all.

    Example: kafkaops topics list --all
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.procedures import topic_list  # not procedures.topics: only what listing needs

    settings = get_settings(ctx)
    result = topic_list.list_topics(settings, include_internal=all_)
    if json_:
        ui.print_json(
            {
                "topics": [
                    {"name": t.name, "partitions": t.partitions, "replication_factor": t.replication_factor, "internal": t.internal} for t in result.topics
                ],
                "hidden_internal": result.hidden,
            }
        )
        return
    if result.topics:
        rows = [[t.name, t.partitions, t.replication_factor] for t in result.topics]
        ui.print_data_table(["topic", "partitions", "replication factor"], rows)
    else:
        ui.info("no topics" if not result.hidden else "no topics besides internal ones")
    if result.hidden:
        which = "topic" if result.hidden == 1 else "topics"
        ui.info(f"{result.hidden} internal {which} hidden (--all shows them)")


@topics_app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Topic name: letters, digits, '.', '_' and '-', at most 249 characters.")],
    partitions: Annotated[int, typer.Option("--partitions", "-p", help="Number of partitions.")] = 1,
    replication_factor: Annotated[int, typer.Option("--replication-factor", "-r", help="Copies of each partition (at most the live brokers).")] = 1,
    config: Annotated[list[str] | None, typer.Option("--config", "-c", help="A topic config as key=value (repeatable), e.g. retention.ms=86400000.")] = None,
    if_not_exists: Annotated[bool, typer.Option("--if-not-exists", help="An existing topic is fine: do nothing and say so.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help=TIMEOUT_HELP)] = WAIT_TIMEOUT,
) -> None:
    """Create a topic and return once every partition has a leader. An existing topic is an error (exit 1) unless --if-not-exists.

    Example: kafkaops topics create orders --partitions 3 --config retention.ms=86400000
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.procedures import topics, windows

    topics.validate_name(name)
    topics.validate_counts(partitions, replication_factor)
    configs = topics.parse_configs(config)
    for warning in topics.name_warnings(name):
        ui.warn(warning)
    settings = get_settings(ctx)
    if windows_note := windows.retention_warning(settings, configs):
        ui.warn(windows_note)
    result = topics.create_topic(settings, name, partitions, replication_factor, configs, if_not_exists=if_not_exists, timeout=timeout)
    if result.created:
        ui.success(f"topic {name} created ({topics.shape(result.partitions, result.replication_factor)}), ready in {result.seconds:.1f}s")
        return
    ui.info(f"topic {name} already exists ({topics.shape(result.partitions, result.replication_factor)}); nothing to do")
    if result.differs:
        ui.warn(f"you asked for {topics.shape(result.requested_partitions, result.requested_replication_factor)}; the existing topic was left as it is")


def _partition_rows(parts: list[Any]) -> list[list[Any]]:
    rows = []
    for p in parts:
        flags = [f for f, on in (("offline", p.offline), ("under-replicated", p.under_replicated)) if on]
        if p.error:
            flags.append(p.error)
        rows.append(
            [
                p.partition,
                "none" if p.leader is None else p.leader,
                ",".join(map(str, p.replicas)),
                ",".join(map(str, p.isr)),
                _count(p.low),
                _count(p.high),
                _count(p.messages),
                " ".join(flags),
            ]
        )
    return rows


_PARTITION_COLUMNS = ["partition", "leader", "replicas", "in-sync", "low", "high", "messages", "flags"]


@topics_app.command("describe")
def describe(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The topic.")],
    configs: Annotated[
        bool, typer.Option("--configs", help="Show only the topic's non-default configs, each with where it is set (like kafka-configs --describe).")
    ] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """Show each partition's leader, replicas, in-sync replicas and low/high watermarks, and the topic's non-default configs.

    Example: kafkaops topics describe db_live_events --json

    Example: kafkaops topics describe db_live_events --configs
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.procedures import topics

    topics.validate_name(name)
    settings = get_settings(ctx)
    d = topics.describe_topic(settings, name)
    if configs:
        _render_configs(d.name, d.configs, json_)
        return
    if json_:
        ui.print_json(
            {
                "name": d.name,
                "internal": d.internal,
                "replication_factor": d.replication_factor,
                "messages": d.messages,
                "under_replicated_partitions": d.under_replicated,
                "offline_partitions": d.offline,
                "partitions": [
                    {
                        "partition": p.partition,
                        "leader": p.leader,
                        "replicas": p.replicas,
                        "isr": p.isr,
                        "low": p.low,
                        "high": p.high,
                        "messages": p.messages,
                        "under_replicated": p.under_replicated,
                        "offline": p.offline,
                        "error": p.error,
                    }
                    for p in d.partitions
                ],
                "configs": [{"name": c.name, "value": c.value, "source": c.source, "sensitive": c.is_sensitive} for c in d.configs],
            }
        )
        return
    ui.print_lines([f"topic {d.name}: {topics.shape(len(d.partitions), d.replication_factor)}, {_count(d.messages)} messages"])
    ui.print_data_table(_PARTITION_COLUMNS, _partition_rows(d.partitions))
    ui.print_lines([""])
    _render_configs(d.name, d.configs, False)
    if d.offline:
        ui.warn(f"partitions without a leader (offline): {', '.join(map(str, d.offline))}")
    if d.under_replicated:
        ui.warn(f"under-replicated partitions: {', '.join(map(str, d.under_replicated))}")


def _render_configs(name: str, configs: list[Any], json_: bool) -> None:
    """The non-default configs: a table (config, value, set in) or, with --json, {name, configs}."""
    from kafkaops import ui

    if json_:
        ui.print_json({"name": name, "configs": [{"name": c.name, "value": c.value, "source": c.source, "sensitive": c.is_sensitive} for c in configs]})
    elif configs:
        ui.print_lines(["non-default configs:"])
        ui.print_data_table(
            ["config", "value", "set in"],
            [[c.name, "(sensitive)" if c.is_sensitive else c.value, _SOURCES.get(c.source, c.source)] for c in configs],
        )
    else:
        ui.print_lines(["configs: all defaults"])


@topics_app.command("alter")
def alter(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The topic.")],
    partitions: Annotated[
        int | None, typer.Option("--partitions", "-p", help="The new partition count: only more than now (Kafka cannot take partitions away).")
    ] = None,
    config: Annotated[list[str] | None, typer.Option("--config", "-c", help="Set a topic config, key=value (repeatable), e.g. retention.ms=3600000.")] = None,
    delete_config: Annotated[
        list[str] | None, typer.Option("--delete-config", help="Remove a config set on the topic, so the broker's value applies again (repeatable).")
    ] = None,
    execute: Annotated[bool, typer.Option("--execute", help="Apply the change. Without it, only show it, checked by the broker (a dry run).")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print the plan as one JSON document on stdout.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help=TIMEOUT_HELP)] = WAIT_TIMEOUT,
) -> None:
    """Add partitions to a topic or change its configs. Shows the change (old -> new), checked by the broker; changes nothing without --execute.

    Adding partitions changes which partition a key goes to (a warning says so). A config the broker
    rejects (unknown name, bad value) is an error (exit 2) in the dry run already.

    Example: kafkaops topics alter orders --config retention.ms=3600000 --delete-config cleanup.policy --execute
    """
    from kafkaops.cli import get_settings
    from kafkaops.procedures import topic_alter, topics

    set_ = topics.parse_configs(config)
    delete = list(dict.fromkeys(k.strip() for k in delete_config or []))
    settings = get_settings(ctx)
    plan = topic_alter.plan_alter(settings, name, partitions, set_, delete, timeout=timeout)
    if execute and plan.changes:
        topic_alter.execute_alter(settings, plan, timeout=timeout)
    _render_alter(plan, execute, json_)


def _render_alter(plan: Any, execute: bool, json_: bool) -> None:
    from dataclasses import asdict

    from kafkaops import ui

    if json_:
        ui.print_json({**asdict(plan), "executed": execute and bool(plan.changes)})
    else:
        rows = []
        if plan.new_partitions is not None:
            rows.append(["partitions", str(plan.partitions), "", str(plan.new_partitions)])
        for c in plan.configs:
            rows.append(
                [
                    c.name,
                    "-" if c.old is None else c.old,
                    _SOURCES.get(c.old_source, c.old_source.lower().replace("_config", "")),
                    c.new or "(deleted: broker's value)",
                ]
            )
        if rows:
            ui.print_data_table(["change", "now", "set in", "after"], rows)
    for note in plan.notes:
        ui.info(note)
    for warning in plan.warnings:
        ui.warn(warning)
    if not plan.changes:
        ui.info(f"topic {plan.topic}: nothing to change")
    elif execute:
        ui.success(f"topic {plan.topic} altered ({plan.changes} change(s))")
    else:
        ui.info(f"dry run: the broker accepts this change, nothing applied; add --execute to alter topic {plan.topic}")


@topics_app.command("delete")
def delete(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The topic.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Delete without asking (needed when there is no terminal).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be lost, delete nothing.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help=TIMEOUT_HELP)] = WAIT_TIMEOUT,
) -> None:
    """Delete a topic and every message in it, after showing what will be lost and asking. Internal topics are refused.

    Without a terminal, --yes is required (else exit 5, nothing deleted). Returns once the topic is gone.

    Example: kafkaops topics delete orders --yes
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.errors import RefusedError
    from kafkaops.procedures import topics, windows

    topics.validate_name(name)
    settings = get_settings(ctx)
    plan = topics.plan_delete(settings, name)
    if windows_note := windows.delete_warning(settings, name):
        ui.warn(windows_note)
    ui.info(f"deleting topic {name} loses {_count(plan.messages)} messages in {len(plan.partitions)} partition(s):")
    for p in plan.partitions:
        ui.info(f"  partition {p.partition}: {_count(p.messages)} messages (offsets {_count(p.low)} to {_count(p.high)})")
    if name == settings.kafka_topic:
        ui.warn(
            f"{name} is the pipeline's topic (KAFKA_TOPIC): after it is re-created, the producer's position in "
            "producer_offsets still points past the rows already sent (see: kafkaops runbook producer the-offset-table)"
        )
    if dry_run:
        ui.info("dry run: nothing deleted")
        return
    if not yes:
        if not ui.stdin_is_terminal():
            raise RefusedError(
                f"not deleting topic {name}: no terminal to confirm on",
                hint=f"rerun with --yes to delete it: kafkaops topics delete {name} --yes",
                runbook="topics deleting-a-topic",
            )
        if not ui.confirm(f"Delete topic {name} and its {_count(plan.messages)} messages?"):
            ui.info(f"topic {name} not deleted")
            raise typer.Exit(int(ExitCode.ERROR))
    result = topics.delete_topic(settings, plan, timeout=timeout)
    ui.success(f"topic {name} deleted ({_count(result.messages)} messages) in {result.seconds:.1f}s")
