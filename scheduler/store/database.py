"""Engines for SQLite (the embedded default) and PostgreSQL, and migrations run on open."""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.pool import NullPool

from ..problems import UserError

MIGRATIONS = Path(__file__).with_name("migrations")
# The newest migration's revision (tests hold it to Alembic's own head): an up-to-date database is recognized
# without importing Alembic, which costs a daemon about 12 MB and a tenth of a second at every start.
HEAD_REVISION = "0005"
SQLITE_BUSY_TIMEOUT_MS = 30_000  # a second daemon or a `queue` holding the write lock: wait, don't fail
PRIVATE_FILE = 0o600  # the storm plan: readable by its owner only
SQLITE_COMPANIONS = ("-wal", "-shm")  # SQLite gives them the database file's mode (checked in the tests)


def sqlite_file(url: str) -> Path | None:
    """The file of an ``sqlite:///`` URL; None for PostgreSQL or an in-memory database."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def database_files(path: Path) -> list[Path]:
    """The database file and its -wal and -shm, those that exist."""
    return [file for file in (path, *(Path(f"{path}{suffix}") for suffix in SQLITE_COMPANIONS)) if file.exists()]


def create_private(path: Path) -> None:
    """Create an empty database file readable by its owner only, whatever the umask, before SQLite creates it
    (an empty file is a valid SQLite database); an existing file is left as it is."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return
    except OSError:
        return  # a folder we may not write: SQLite's own error says so (see check_writable)
    os.close(descriptor)


# What SQLite and PostgreSQL answer when the database cannot be written (lower case): file permissions, a
# read-only file system or mount, a folder where the -wal/-shm cannot be made, a full disk, a read-only server.
_WRITE_FAILURES = ("readonly database", "read-only", "read only", "disk i/o error", "unable to open database file",
                   "database or disk is full")


_READ_ONLY = _WRITE_FAILURES[:3]


def is_write_failure(error: BaseException, *, read_only_only: bool = False) -> bool:
    """Whether a database error means the database cannot be written now (not a lock or a lost connection);
    ``read_only_only``: because it is read-only (not a full disk or an I/O error)."""
    words = str(getattr(error, "orig", None) or error).lower()
    return any(failure in words for failure in (_READ_ONLY if read_only_only else _WRITE_FAILURES))


def shown_database(url: str) -> str:
    """The database as a message may name it: the SQLite file, or the server URL without its password."""
    path = sqlite_file(url)
    if path is not None:
        return str(path)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1]


def unwritable_advice(url: str, error: BaseException) -> str:
    """What to say when the database at ``url`` cannot be written: which one, the database's own words, and
    what to do."""
    said = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    path = sqlite_file(url)
    if path is None:
        return (f"the database {shown_database(url)} does not take writes ({said}); point database.url at the "
                "primary server, with a user allowed to write")
    if "full" in said.lower():
        return (f"the disk holding the database {path} is full: {said}. Free space on it (`df -h "
                f"{shlex.quote(str(path.parent))}`), or set database.url to a disk with room")
    files = " ".join(shlex.quote(str(file)) for file in database_files(path)) or shlex.quote(str(path))
    return (f"the database {path} is read-only (file permissions / read-only file system): {said}. Make the file "
            f"and its folder writable by the user who runs Stormcaller (`chmod 600 {files}` and `chmod 700 "
            f"{shlex.quote(str(path.parent))}`: SQLite keeps {path.name}-wal and {path.name}-shm beside it), check "
            "that the file system is not mounted read-only or full, or set database.url to a writable place")


def check_writable(engine: Engine, url: str) -> None:
    """Write to the database in a transaction that is rolled back, so a read-only one is found at start
    instead of at the storm (SQLite opens a file it may not write read-only, and says so only at a write).

    :raises UserError: the database cannot be written, naming it and what to do.
    """
    try:
        with engine.connect() as connection:
            transaction = connection.begin()
            try:
                connection.exec_driver_sql("UPDATE alembic_version SET version_num = version_num")
            finally:
                transaction.rollback()
    except DBAPIError as error:
        if is_write_failure(error):
            raise UserError(unwritable_advice(url, error)) from None
        raise


def schema_revision(connection: Connection) -> str | None:
    """The revision Alembic recorded in this database, or None for a database it never migrated."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def alembic_head() -> str | None:
    """The newest revision among the migrations, as Alembic reads them (for the test of HEAD_REVISION)."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def exposure_warning(url: str) -> str | None:
    """A warning for an SQLite database (or its -wal / -shm) that other users of this machine may read or
    write, with the command that makes it private; None when it is private (or not an SQLite file)."""
    path = sqlite_file(url)
    if path is None or not path.exists():
        return None
    files = database_files(path)
    try:
        exposed = [file for file in files if file.stat().st_mode & 0o077]
        folder_mode = path.parent.stat().st_mode
    except OSError:
        return None
    # Anyone who may write to the folder may delete or replace the database (unless it is sticky, as /tmp is).
    # A group-writable folder is not warned about: umask 002 makes every folder so where each user has a group
    # of their own (Debian, Ubuntu), and the warning would be noise there.
    open_folder = bool(folder_mode & 0o002) and not folder_mode & stat.S_ISVTX
    if not exposed and not open_folder:
        return None
    said, fixes = [], []
    if exposed:
        modes = ", ".join(f"{file.name} {stat.filemode(file.stat().st_mode)}" for file in exposed)
        said.append(f"can be read by other users of this machine ({modes})")
        fixes.append(f"`chmod 600 {' '.join(shlex.quote(str(file)) for file in files)}`")
    if open_folder:
        said.append(f"is in a folder other users may write to ({stat.filemode(folder_mode)}), so they could replace "
                    "it")
        fixes.append(f"`chmod o-w {shlex.quote(str(path.parent))}`")
    return (f"the database {path} {' and '.join(said)}; it holds the storm plan (every post, account and due "
            f"time): make it private with {' and '.join(fixes)}")


def make_engine(url: str) -> Engine:
    """An engine for ``url``: ``sqlite:///path`` or ``postgresql://...`` (driven by psycopg 3)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    try:
        if url.startswith("sqlite"):
            return _sqlite_engine(url)
        # A few daemons share one server (max_connections is 100 by default): each keeps at most 25.
        return create_engine(url, pool_size=5, max_overflow=20, pool_pre_ping=True, pool_timeout=60)
    except (ArgumentError, ModuleNotFoundError) as error:
        raise UserError(f"database.url {url.split('@')[-1]!r} is not a usable database URL ({error}); "
                        "use sqlite:///storm.db or postgresql://user@host/dbname") from None


def _sqlite_engine(url: str) -> Engine:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        folder = Path(path).parent
        if not folder.exists():
            raise UserError(f"database folder {str(folder)!r} does not exist; create it or change database.url")
        create_private(Path(path))
    engine = create_engine(url, poolclass=NullPool if path == ":memory:" else None,
                           connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "handle_error")
    def _reopen_after_write_failure(context) -> None:  # type: ignore[no-untyped-def]
        # A connection SQLite opened while the file (or its -shm) was read-only stays read-only, and so does the
        # -shm index every connection of this process shares while any of them holds it: every connection of the
        # pool is dropped, so the next write opens the files again and finds them writable once they are.
        if is_write_failure(context.original_exception, read_only_only=True):  # a full disk: they are fine
            context.is_disconnect = True

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection) -> None:  # type: ignore[no-untyped-def]
        # Take the write lock at BEGIN: two daemons then queue up instead of failing on lock upgrade.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (a no-op when it is there already)."""
    try:
        with engine.connect() as connection:
            if schema_revision(connection) == HEAD_REVISION:
                return
    except OperationalError as error:
        if is_write_failure(error):
            raise UserError(unwritable_advice(str(engine.url), error)) from None
        raise UserError(f"cannot open the database: {error.orig}; check database.url and that the "
                        "server is running") from None
    from alembic import command
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except DBAPIError as error:  # a read-only file that needs a migration: nothing was changed
        if is_write_failure(error):
            raise UserError(unwritable_advice(str(engine.url), error)) from None
        raise
