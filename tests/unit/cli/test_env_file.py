"""A `.env` that cannot be read is refused by every command: one line naming the file, exit 2.

Before: a binary `.env` ended every command in a UnicodeDecodeError that named no file, and a line
with an unterminated quote was dropped with a logged warning, so the defaults were used instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kafkaops.cli import app


def run(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, args, env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("args", [["status"], ["topics", "list"], ["db", "status"], ["doctor"]])
def test_a_binary_env_file_is_named_with_its_byte_offset(args: list[str], env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"KAFKA_TOPIC=t\n\x89PNG\r\n\x1a\n\x00\x00")
    code, out, err = run(args, env)
    assert (code, out) == (2, "")
    assert err == (
        f"error: {tmp_path / '.env'} is not a UTF-8 text file (byte 14 is 0x89)\n"
        "hint: save it as UTF-8 text with one KEY=VALUE per line, or name another file with --env-file\n"
    )


def test_an_explicit_binary_env_file_is_named_too(env: dict[str, str], tmp_path: Path) -> None:
    f = tmp_path / "settings.bin"
    f.write_bytes(b"\xff\xfeK\x00")
    code, out, err = run(["--env-file", str(f), "status"], env)
    assert (code, out) == (2, "")
    assert err.splitlines()[0] == f"error: {f} is not a UTF-8 text file (byte 0 is 0xff)"


@pytest.mark.parametrize("quote", ['"', "'"])
def test_an_unterminated_quote_names_the_file_and_line_and_refuses(quote: str, env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"# settings\nKAFKA_TOPIC=orders\nKAFKA_SASL_PASSWORD={quote}s3cret\nKAFKA_CLIENT_ID=me\n")
    code, out, err = run(["topics", "list"], env)
    assert (code, out) == (2, "")
    assert err == (
        f"error: {tmp_path / '.env'}, line 3: the value of KAFKA_SASL_PASSWORD opens a quote ({quote}) that is never closed\n"
        f"hint: close the quote on line 3 of {tmp_path / '.env'} (or remove the line); kafkaops does not guess\n"
    )
    assert "s3cret" not in err


def test_a_line_that_is_not_key_value_names_the_file_and_line(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("KAFKA_TOPIC=orders\nkafka broker localhost:9092\n")
    code, out, err = run(["topics", "list"], env)
    assert (code, out) == (2, "")
    assert err == (f"error: {tmp_path / '.env'}, line 2 is not KEY=VALUE\nhint: fix line 2 of {tmp_path / '.env'} or comment it out with #\n")


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_name(env: dict[str, str], tmp_path: Path) -> None:
    # Notepad writes one; without care the first variable would be read as '\ufeffKAFKA_BROKER' and ignored.
    broker = env.pop("KAFKA_BROKER")
    (tmp_path / ".env").write_bytes(b"\xef\xbb\xbfKAFKA_BROKER=" + broker.encode() + b"\n")
    code, _, err = run(["topics", "list"], env)
    assert code == 4
    assert broker in err
