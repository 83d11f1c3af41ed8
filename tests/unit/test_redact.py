from kafkaops.redact import redact_dsn, redact_mapping, redact_text


def test_url_password_is_masked() -> None:
    assert redact_dsn("postgresql://alice:s3cr%40t@db.example:5432/app?sslmode=require") == ("postgresql://alice:***@db.example:5432/app?sslmode=require")
    assert redact_dsn("postgresql://db.example/app") == "postgresql://db.example/app"


def test_keyword_dsn_and_free_text() -> None:
    assert "s3cret" not in redact_dsn("host=db user=alice password=s3cret dbname=app")
    text = 'connection to "postgresql://bob:hunter2@h/db" failed; sasl.password=xyz'
    out = redact_text(text)
    assert "hunter2" not in out and "xyz" not in out and "bob:***@h" in out


def test_mapping() -> None:
    assert redact_mapping({"sasl.password": "p", "sasl.username": "u"}) == {"sasl.password": "***", "sasl.username": "u"}
