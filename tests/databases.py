"""Real databases for tests: a fresh SQLite file, or a fresh schema on the PostgreSQL server at
127.0.0.1:5432 (database `test`, user `postgres`); PostgreSQL tests skip with the reason when it is away."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used, or None."""
    try:
        engine = create_engine(POSTGRES, connect_args={"connect_timeout": 3})
        with engine.connect() as db:
            db.execute(text("select 1"))
        engine.dispose()
    except Exception as error:  # any failure means: skip, saying why
        return f"PostgreSQL at 127.0.0.1:5432 (database test, user postgres) is not reachable: {error}"
    return None


def fresh_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database of ``backend``, removed afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'storm.db'}"
        return
    reason = postgres_unreachable()
    if reason:
        pytest.skip(reason)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.execute(text(f"create schema {schema}"))
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}&application_name={schema}"
    finally:
        with admin.connect() as db:
            db.execute(text(f"drop schema {schema} cascade"))
        admin.dispose()
