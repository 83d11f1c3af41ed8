"""kafkaops groups list | describe | reset."""

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer

from kafkaops.cli.stack import WATCH_COUNT_HELP, WATCH_INTERVAL_HELP

if TYPE_CHECKING:
    from kafkaops.procedures.groups import ResetPlan

groups_app = typer.Typer(
    name="groups",
    help="Consumer groups: list, describe (committed offsets, lag, members), reset offsets.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    app.add_typer(groups_app, name="groups")


@groups_app.command("list")
def list_(
    ctx: typer.Context,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """List the consumer groups the broker knows, with their state.

    Example: kafkaops groups list --json
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.procedures import groups

    settings = get_settings(ctx)
    found = groups.list_groups(settings)
    if json_:
        ui.print_json({"groups": [asdict(g) for g in found]})
        return
    if not found:
        ui.info("no consumer groups (a group appears once a consumer with --group commits or joins)")
        return
    ui.print_table(None, ["GROUP", "STATE", "KIND"], [(g.group, g.state, "offsets only" if g.simple else "consumer") for g in found])


@groups_app.command("describe")
def describe(
    ctx: typer.Context,
    group: Annotated[str | None, typer.Argument(help="The consumer group (with --watch it may be left out: every group).")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout (with --watch: one JSON line per refresh).")] = False,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Refresh in place until Ctrl+C: per partition lag, each group's lag trend.")] = False,
    interval: Annotated[float, typer.Option("--interval", help=WATCH_INTERVAL_HELP)] = 2.0,
    count: Annotated[int | None, typer.Option("--count", help=WATCH_COUNT_HELP)] = None,
) -> None:
    """Show a group's state, members, and per partition its committed offset, end offset and lag.

    --watch redraws every --interval seconds: the pipeline topic's end offsets and messages/s, and per
    group (GROUP, or every group) its lag per partition and whether the total went up, down or stayed
    flat since the last refresh. Ctrl+C leaves the last picture (exit 0); without a terminal (or with
    --json) one JSON line per refresh; --count N stops after N refreshes.

    Example: kafkaops groups describe analytics --watch
    """
    from kafkaops import ui
    from kafkaops.cli import get_settings
    from kafkaops.errors import UsageError
    from kafkaops.procedures import groups

    settings = get_settings(ctx)
    if watch:
        from kafkaops.cli import watch as watching
        from kafkaops.procedures import watch as snapshots

        watching.check(interval, count)
        watching.run(lambda prev: snapshots.take(settings, prev, stack=False, group=group), interval=interval, count=count, json_lines=json_, partitions=True)
        return
    if group is None:
        raise UsageError("name the consumer group to describe", hint="kafkaops groups list shows them; --watch without a group watches them all")
    d = groups.describe(settings, group)
    if json_:
        doc = asdict(d)
        doc["total_lag"] = d.total_lag
        ui.print_json(doc)
        return
    ui.info(
        f"group {d.group}: state {d.state}, {len(d.members)} member(s), total lag {d.total_lag}" + (f", coordinator {d.coordinator}" if d.coordinator else "")
    )
    if not d.partitions:
        ui.info(f"group {d.group} has no committed offsets and no assigned partitions")
    else:
        ui.print_table(
            None,
            ["TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "MEMBER"],
            [
                (p.topic, p.partition, "-" if p.committed is None else p.committed, p.end, "-" if p.lag is None else p.lag, p.member or "-")
                for p in d.partitions
            ],
        )
    if d.members:
        ui.print_table(
            None,
            ["MEMBER", "CLIENT", "HOST", "PARTITIONS"],
            [(m.member_id, m.client_id, m.host, ", ".join(f"{t}-{p}" for t, p in m.assignment) or "-") for m in d.members],
        )
    else:
        ui.info(f"group {d.group} has no active members")


@groups_app.command("reset")
def reset(
    ctx: typer.Context,
    group: Annotated[str, typer.Argument(help="The consumer group.")],
    topic: Annotated[
        list[str] | None,
        typer.Option("--topic", "-t", help="A topic whose offsets to reset, every partition of it (repeat for more). This or --all-topics is required."),
    ] = None,
    all_topics: Annotated[
        bool, typer.Option("--all-topics", help="Reset every partition the group has a committed offset for (as kafka-consumer-groups --all-topics).")
    ] = False,
    to_earliest: Annotated[bool, typer.Option("--to-earliest", help="To the oldest offset kept: the group reads everything again.")] = False,
    to_latest: Annotated[bool, typer.Option("--to-latest", help="To the end: the group skips what is there now.")] = False,
    to_offset: Annotated[
        int | None,
        typer.Option(
            "--to-offset",
            help="To this offset on every partition; one outside what a partition holds (-1 included) is clamped to its oldest kept offset or its end, with a warning.",
        ),
    ] = None,
    execute: Annotated[bool, typer.Option("--execute", help="Apply the plan. Without it, only print it (a dry run).")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print the plan as one JSON document on stdout.")] = False,
) -> None:
    """Reset a group's committed offsets on the topics named. Prints the plan; changes nothing without --execute.

    Like Kafka's kafka-consumer-groups --reset-offsets, it needs --topic T (repeatable) or --all-topics.
    Refused (exit code 5) while the group has active members.

    Example: kafkaops groups reset analytics --topic db_live_events --to-earliest --execute
    """
    from kafkaops.cli import get_settings
    from kafkaops.procedures import groups

    to = _reset_target(group, topic, all_topics, to_earliest, to_latest, to_offset)
    settings = get_settings(ctx)
    if not topic and not all_topics:
        raise _no_scope(group, settings.kafka_topic, to, to_offset)
    plan = groups.plan_reset(settings, group, topic or [], to, to_offset, all_topics=all_topics)
    if execute:
        groups.execute_reset(settings, plan)
    _render_reset(plan, execute, json_)


_EVERY = "every partition group {group} has a committed offset for"


def _reset_target(group: str, topic: list[str] | None, all_topics: bool, to_earliest: bool, to_latest: bool, to_offset: int | None) -> str:
    """earliest | latest | offset, from the --to-* options; a usage error unless exactly one is given
    (and not --topic with --all-topics)."""
    from kafkaops.errors import UsageError

    scope = "--all-topics" if all_topics else f"--topic {topic[0]}" if topic else "--topic T"
    chosen = [name for name, on in (("--to-earliest", to_earliest), ("--to-latest", to_latest), ("--to-offset", to_offset is not None)) if on]
    if len(chosen) != 1:
        raise UsageError(
            "give exactly one of --to-earliest, --to-latest, --to-offset N" + (f" (got {', '.join(chosen)})" if chosen else ""),
            hint=f"e.g. kafkaops groups reset {group} {scope} --to-earliest",
        )
    if topic and all_topics:
        raise UsageError("give --topic or --all-topics, not both", hint=f"--all-topics already takes {_EVERY.format(group=group)}")
    return "earliest" if to_earliest else "latest" if to_latest else "offset"


def _no_scope(group: str, kafka_topic: str, to: str, to_offset: int | None) -> Exception:
    from kafkaops.errors import UsageError

    target = f"--to-offset {to_offset}" if to == "offset" else f"--to-{to}"
    return UsageError(
        "give --topic T or --all-topics: a reset names the topics it moves (KAFKA_TOPIC is not assumed)",
        hint=f"e.g. kafkaops groups reset {group} --topic {kafka_topic} {target}; --all-topics takes {_EVERY.format(group=group)}",
    )


def _render_reset(plan: "ResetPlan", execute: bool, json_: bool) -> None:
    from kafkaops import ui

    if json_:
        doc = asdict(plan)
        doc["executed"] = execute
        ui.print_json(doc)
    else:
        ui.print_table(
            None,
            ["TOPIC", "PARTITION", "CURRENT", "NEW", "OFFSETS KEPT"],
            [(r.topic, r.partition, "-" if r.current is None else r.current, r.new, f"{r.low}..{r.high}") for r in plan.rows],
        )
    for r in plan.rows:
        if r.note:
            ui.warn(f"{r.topic} partition {r.partition}: {r.note}")
    where = ", ".join(plan.topics)
    if execute:
        ui.success(f"group {plan.group}: offsets on {where} reset to {plan.to} ({plan.changes} partition(s) changed)")
    else:
        ui.info(f"dry run: nothing changed; add --execute to reset group {plan.group} on {where} to {plan.to}")
