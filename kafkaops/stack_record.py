"""The stack record, ``KAFKAOPS_HOME/stack.json``: what kafkaops itself recorded about the local stack.

``migrate`` (at finalize) and ``upgrade`` write it when they move the stack to new configs or binaries, so the
user's files are never rewritten in place; settings read it as the layer between a profile and the defaults.
It holds only the variables in ``RECORD_FIELDS`` and never a secret.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from kafkaops.errors import UsageError

STACK_RECORD = "stack.json"
# The variables a stack record may hold: what the local stack is, never how to reach another one.
RECORD_FIELDS = ("kafka_version", "kafka_home", "server_properties", "zookeeper_properties")


def read_stack_record(home: Path) -> dict[str, str]:
    """The values kafkaops recorded for the local stack under ``home`` (empty when there is no record)."""
    path = home / STACK_RECORD
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"the stack record {path} cannot be read ({exc})",
            hint=f"kafkaops writes it when migrate or upgrade changes the stack; restore it, or delete it to use the defaults again ({path})",
        ) from exc
    if not isinstance(data, dict):
        raise UsageError(f"the stack record {path} is not a JSON object", hint=f"delete {path} to use the defaults again")
    return {k: str(v) for k, v in data.items() if k in RECORD_FIELDS and v not in (None, "")}


def write_stack_record(home: Path, values: Mapping[str, str | None]) -> Path:
    """Merge ``values`` into the stack record (None removes a key); written whole, then renamed into place."""
    unknown = sorted(set(values) - set(RECORD_FIELDS))
    if unknown:
        raise ValueError(f"not stack record fields: {unknown}")
    record = {**read_stack_record(home), **{k: v for k, v in values.items() if v is not None}}
    for key in (k for k, v in values.items() if v is None):
        record.pop(key, None)
    path = home / STACK_RECORD
    home.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
