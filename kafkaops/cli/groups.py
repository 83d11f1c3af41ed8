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
    to_datetime: Annotated[
        str | None,
        typer.Option(
            "--to-datetime",
            help="To the first message at or after this time on each partition; a partition without one goes to its end."
            " ISO-8601 with a zone (2026-05-01T10:00:00Z or ...+02:00: Kafka's tool reads a time without one as UTC,"
            " kafkaops consume as local time, so one is required here), -15m / -2h / -1d, @<epoch-millis>, or now.",
        ),
    ] = None,
    by_duration: Annotated[
        str | None,
        typer.Option("--by-duration", help="As --to-datetime at now minus this duration: ISO-8601 as Kafka's tool takes it (PT15M, P1DT2H) or 15m / 1h30m."),
    ] = None,
    shift_by: Annotated[
        int | None,
        typer.Option("--shift-by", help="Move each committed offset by N (negative: back), clamped to the oldest kept offset and the end."),
    ] = None,
    execute: Annotated[bool, typer.Option("--execute", help="Apply the plan. Without it, only print it (a dry run).")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print the plan as one JSON document on stdout.")] = False,
) -> None:
    """Reset a group's committed offsets on the topics named. Prints the plan; changes nothing without --execute.

    Like Kafka's kafka-consumer-groups --reset-offsets, it needs --topic T (repeatable) or --all-topics,
    and exactly one target: --to-earliest, --to-latest, --to-offset N, --to-datetime TIME,
    --by-duration DURATION or --shift-by N (the same semantics as Kafka's tool).
    Refused (exit code 5) while the group has active members.

    Example: kafkaops groups reset analytics --topic db_live_events --to-datetime -1h --execute
    """
    from kafkaops.cli import get_settings
    from kafkaops.procedures import groups

    chosen = {
        "earliest": to_earliest,
        "latest": to_latest,
        "offset": to_offset is not None,
        "datetime": to_datetime is not None,
        "duration": by_duration is not None,
        "shift": shift_by is not None,
    }
    to = _reset_target(group, topic, all_topics, chosen)
    timestamp, label = _when(to, to_datetime, by_duration)
    number = to_offset if to == "offset" else shift_by
    settings = get_settings(ctx)
    if not topic and not all_topics:
        raise _no_scope(group, settings.kafka_topic, _flag(to, number, to_datetime or by_duration))
    plan = groups.plan_reset(
        settings, group, topic or [], to, number, all_topics=all_topics, timestamp=timestamp, label=label or (f"shift by {number}" if to == "shift" else None)
    )
    if execute:
        groups.execute_reset(settings, plan)
    _render_reset(plan, execute, json_)


_EVERY = "every partition group {group} has a committed offset for"
_FLAGS = {
    "earliest": "--to-earliest",
    "latest": "--to-latest",
    "offset": "--to-offset",
    "datetime": "--to-datetime",
    "duration": "--by-duration",
    "shift": "--shift-by",
}


def _flag(to: str, number: int | None, text: str | None) -> str:
    """The target as it was typed, for hints."""
    value = number if to in ("offset", "shift") else text if to in ("datetime", "duration") else None
    return _FLAGS[to] + ("" if value is None else f" {value}")


def _when(to: str, to_datetime: str | None, by_duration: str | None) -> tuple[int | None, str | None]:
    """--to-datetime / --by-duration as epoch milliseconds, and the plan's label (the time in UTC)."""
    from kafkaops.procedures.consume import iso_ms
    from kafkaops.procedures.timespec import now_ms, parse_duration, parse_time

    if to == "datetime" and to_datetime is not None:
        ms = parse_time(to_datetime, "--to-datetime", zone_required=True)
        return ms, f"datetime {iso_ms(ms)}"
    if to == "duration" and by_duration is not None:
        ms = now_ms() - parse_duration(by_duration)
        return ms, f"duration {by_duration} ({iso_ms(ms)})"
    return None, None


def _reset_target(group: str, topic: list[str] | None, all_topics: bool, chosen: dict[str, bool]) -> str:
    """The one target the --to-* / --by-duration / --shift-by options name; a usage error unless exactly
    one is given (and not --topic with --all-topics)."""
    from kafkaops.errors import UsageError

    scope = "--all-topics" if all_topics else f"--topic {topic[0]}" if topic else "--topic T"
    given = [to for to, on in chosen.items() if on]
    if len(given) != 1:
        raise UsageError(
            "give exactly one of --to-earliest, --to-latest, --to-offset N, --to-datetime TIME, --by-duration DURATION, --shift-by N"
            + (f" (got {', '.join(_FLAGS[to] for to in given)})" if given else ""),
            hint=f"e.g. kafkaops groups reset {group} {scope} --to-earliest",
        )
    if topic and all_topics:
        raise UsageError("give --topic or --all-topics, not both", hint=f"--all-topics already takes {_EVERY.format(group=group)}")
    return given[0]


def _no_scope(group: str, kafka_topic: str, target: str) -> Exception:
    from kafkaops.errors import UsageError

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
