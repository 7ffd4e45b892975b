"""psycopg 3 against a PostgreSQL-compatible server: usage ``psycopg3_test.py HOST PORT``.

Every check asserts what PostgreSQL 15 does (run this script against one to see all pass).
psycopg 3 sends BEGIN/COMMIT as simple queries and everything with parameters through the
extended protocol, a ``str`` parameter with OID 0 (the server infers its type), and after
five runs of one query it prepares a named statement ``_pg3_N``.
"""

import datetime as dt
import threading
import time
from decimal import Decimal

import psycopg
from psycopg import errors
from psycopg.types import TypeInfo

from harness import check, run_all, server_args

TYPES_DDL = """CREATE TABLE p3_types (
    id int4 PRIMARY KEY, i2 int2, i8 int8, n numeric(12,3), f4 float4, f8 float8,
    t text, v varchar(20), b bool, d date, ts timestamp, tz timestamptz,
    iv interval, by bytea)"""

ROW1 = (
    1, 7, 9000000000, Decimal("1234.567"), 1.5, 2.25,
    "héllo", "vc", True, dt.date(2024, 2, 29), dt.datetime(2024, 2, 29, 13, 14, 15, 123456),
    dt.datetime(2024, 2, 29, 13, 14, 15, tzinfo=dt.timezone.utc),
    dt.timedelta(days=3, hours=4, minutes=5, seconds=6), b"\x00\x01\xffbin",
)
ROW2 = (2,) + (None,) * 13


def connect(kw, **more):
    return psycopg.connect(**kw, **more)


def fresh(conn, name, ddl):
    conn.execute(f"DROP TABLE IF EXISTS {name}")
    conn.execute(ddl)


@check
def connect_and_server_params(kw):
    with connect(kw) as conn:
        assert conn.info.status == psycopg.pq.ConnStatus.OK
        assert conn.info.parameter_status("client_encoding") == "UTF8"
        assert conn.info.parameter_status("DateStyle").startswith("ISO")
        assert conn.info.server_version >= 100000, conn.info.server_version
        assert conn.execute("SELECT 1").fetchone() == (1,)
        version = conn.info.server_version
    return f"server_version {version}, UTF8, ISO DateStyle"


@check
def types_round_trip_text(kw):
    with connect(kw, autocommit=True) as conn:
        fresh(conn, "p3_types", TYPES_DDL)
        conn.execute(
            "INSERT INTO p3_types VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)", ROW1)
        conn.execute(
            "INSERT INTO p3_types VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)", ROW2)
        conn.execute("SET TimeZone = 'UTC'")
        rows = conn.execute("SELECT * FROM p3_types ORDER BY id").fetchall()
        assert rows[0] == ROW1, rows[0]
        assert rows[1] == ROW2, rows[1]
        assert isinstance(rows[0][3], Decimal) and isinstance(rows[0][12], dt.timedelta)
    return "14 types incl. NULLs: Decimal, float, str, bool, date, datetime(tz), timedelta, bytes"


@check
def types_round_trip_binary(kw):
    with connect(kw, autocommit=True) as conn:
        fresh(conn, "p3_bin", TYPES_DDL.replace("p3_types", "p3_bin"))
        with conn.cursor(binary=True) as cur:
            cur.execute(
                "INSERT INTO p3_bin VALUES (%b,%b,%b,%b,%b,%b,%b,%b,%b,%b,%b,%b,%b,%b)", ROW1)
            conn.execute("SET TimeZone = 'UTC'")
            cur.execute("SELECT * FROM p3_bin")
            got = cur.fetchone()
            assert cur.pgresult.fformat(0) == 1, "result is not binary"
        assert got == ROW1, got
        row = conn.execute("SELECT %s::int8 + 1, %s::text", [41, "x"], binary=True).fetchone()
        assert row == (42, "x"), row
    return "binary parameters (%b) and binary results of every type"


@check
def str_parameter_type_inferred(kw):
    with connect(kw, autocommit=True) as conn:
        fresh(conn, "p3_inf", "CREATE TABLE p3_inf (i int4, d date, n numeric)")
        # str goes as OID 0: the server types it from the column / operator.
        conn.execute("INSERT INTO p3_inf VALUES (%s, %s, %s)", ["12", "2020-01-02", "3.5"])
        row = conn.execute(
            "SELECT i + 1, d, n FROM p3_inf WHERE i = %s AND d > %s", ["12", "2019-12-31"]
        ).fetchone()
        assert row == (13, dt.date(2020, 1, 2), Decimal("3.5")), row
        assert conn.execute("SELECT %s || 'b'", ["a"]).fetchone() == ("ab",)
    return "untyped str params bound to int4/date/numeric columns and text concat"


@check
def executemany_and_rowcount(kw):
    with connect(kw, autocommit=True) as conn:
        fresh(conn, "p3_many", "CREATE TABLE p3_many (k int4 PRIMARY KEY, v text)")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO p3_many VALUES (%s, %s)", [(i, f"v{i}") for i in range(50)])
            assert cur.rowcount == 50, cur.rowcount
            cur.execute("UPDATE p3_many SET v = v || '!' WHERE k < %s", [10])
            assert cur.rowcount == 10, cur.rowcount
            cur.executemany("SELECT v FROM p3_many WHERE k = %s", [(1,), (2,)], returning=True)
            got = [cur.fetchone()]
            while cur.nextset():
                got.append(cur.fetchone())
            assert got == [("v1!",), ("v2!",)], got
        assert conn.execute("SELECT count(*), sum(k) FROM p3_many").fetchone() == (50, 1225)
    return "executemany insert of 50 rows, rowcount, executemany returning=True"


@check
def prepared_statements(kw):
    with connect(kw) as conn:
        conn.prepare_threshold = 5
        for i in range(8):
            assert conn.execute("SELECT %s::int4 * 2", [i]).fetchone() == (2 * i,)
        auto = [n.decode() for n in conn._prepared._names.values()]
        assert auto == ["_pg3_0"], f"not prepared after 5 runs: {auto}"
        for i in range(3):
            row = conn.execute("SELECT %s::text || 'p'", [str(i)], prepare=True).fetchone()
            assert row == (f"{i}p",), row
        # After a ROLLBACK (or DROP/ALTER) psycopg forgets its statements and sends
        # DEALLOCATE ALL; the same queries must then prepare again under new names.
        conn.rollback()
        assert not conn._prepared._names, conn._prepared._names
        for i in range(8):
            assert conn.execute("SELECT %s::int4 * 2", [i]).fetchone() == (2 * i,)
        again = [n.decode() for n in conn._prepared._names.values()]
        assert again == ["_pg3_2"], again
        conn.execute("DEALLOCATE ALL")
        conn._prepared.clear()
        conn._prepared._to_flush.clear()
        try:
            conn.execute("DEALLOCATE _pg3_2")
        except errors.InvalidSqlStatementName as e:
            assert e.sqlstate == "26000"
        else:
            raise AssertionError("DEALLOCATE of a deallocated statement succeeded")
        conn.rollback()
    return f"auto-prepared {auto} after 5 runs, prepare=True, DEALLOCATE ALL after ROLLBACK"


@check
def pg_prepared_statements_view(kw):
    with connect(kw, autocommit=True) as conn:
        conn.execute("SELECT %s::int4", [1], prepare=True)
        names = conn.execute("SELECT name FROM pg_prepared_statements").fetchall()
        assert names == [("_pg3_0",)], names
    return "pg_prepared_statements lists the _pg3_ statement"


@check
def prepared_statements_run(kw):
    with connect(kw, autocommit=True) as conn:
        conn.prepare_threshold = 0
        fresh(conn, "p3_prep", "CREATE TABLE p3_prep (k int4 PRIMARY KEY, v text)")
        for i in range(6):
            conn.execute("INSERT INTO p3_prep VALUES (%s, %s)", [i, str(i)])
        assert conn.execute("SELECT count(*) FROM p3_prep WHERE v <> %s", ["3"]).fetchone() == (5,)
    return "named Parse/Bind/Execute of INSERT and SELECT from the first run"


@check
def transactions(kw):
    with connect(kw) as conn:
        fresh(conn, "p3_tx", "CREATE TABLE p3_tx (k int4 PRIMARY KEY)")
        conn.commit()
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        with conn.transaction():
            conn.execute("INSERT INTO p3_tx VALUES (1)")
            assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        try:
            with conn.transaction():
                conn.execute("INSERT INTO p3_tx VALUES (2)")
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        with conn.transaction():
            conn.execute("INSERT INTO p3_tx VALUES (3)")
            try:
                with conn.transaction():  # a SAVEPOINT
                    conn.execute("INSERT INTO p3_tx VALUES (4)")
                    conn.execute("INSERT INTO p3_tx VALUES (1)")  # duplicate
            except errors.UniqueViolation:
                pass
            conn.execute("INSERT INTO p3_tx VALUES (5)")
        got = [k for (k,) in conn.execute("SELECT k FROM p3_tx ORDER BY k")]
        conn.rollback()
        assert got == [1, 3, 5], got
        conn.execute("INSERT INTO p3_tx VALUES (6)")
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM p3_tx WHERE k = 6").fetchone() == (0,)
        conn.rollback()
    with connect(kw, autocommit=True) as conn:
        conn.execute("INSERT INTO p3_tx VALUES (7)")
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with connect(kw) as other:
        assert other.execute("SELECT count(*) FROM p3_tx WHERE k = 7").fetchone() == (1,)
    return "commit, rollback on exception, savepoint rollback inside a transaction, autocommit"


@check
def error_classes(kw):
    with connect(kw, autocommit=True) as conn:
        fresh(conn, "p3_err", "CREATE TABLE p3_err (k int4 PRIMARY KEY)")
        conn.execute("INSERT INTO p3_err VALUES (1)")
        cases = [
            ("INSERT INTO p3_err VALUES (1)", errors.UniqueViolation, "23505"),
            ("SELECT * FROM p3_no_such_table", errors.UndefinedTable, "42P01"),
            ("SELEC 1", errors.SyntaxError, "42601"),
            ("SELECT 1/0", errors.DivisionByZero, "22012"),
            ("SELECT no_such_col FROM p3_err", errors.UndefinedColumn, "42703"),
            ("INSERT INTO p3_err VALUES (NULL)", errors.NotNullViolation, "23502"),
        ]
        for sql, cls, code in cases:
            try:
                conn.execute(sql)
            except psycopg.Error as e:
                assert type(e) is cls, f"{sql}: {type(e).__name__} {e.sqlstate} {e}"
                assert e.sqlstate == code, (sql, e.sqlstate)
                assert e.diag.message_primary, sql
                assert e.diag.severity == "ERROR", (sql, e.diag.severity)
            else:
                raise AssertionError(f"{sql} did not fail")
        try:
            conn.execute("SELECT %s::int4", ["abc"])
        except errors.InvalidTextRepresentation as e:
            assert e.sqlstate == "22P02"
        else:
            raise AssertionError("'abc'::int4 did not fail")
    with connect(kw) as conn:
        try:
            conn.execute("SELECT * FROM p3_no_such_table")
        except errors.UndefinedTable:
            pass
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        try:
            conn.execute("SELECT 1")
        except errors.InFailedSqlTransaction as e:
            assert e.sqlstate == "25P02"
        else:
            raise AssertionError("statement in a failed transaction did not fail")
        conn.rollback()
        assert conn.execute("SELECT 1").fetchone() == (1,)
    return "23505 23502 42P01 42601 42703 22012 22P02 25P02 mapped to psycopg.errors classes"


@check
def serialization_failure(kw):
    with connect(kw, autocommit=True) as setup:
        fresh(setup, "p3_ser", "CREATE TABLE p3_ser (k int4 PRIMARY KEY, v int4)")
        setup.execute("INSERT INTO p3_ser VALUES (1, 0)")
    a, b = connect(kw), connect(kw, autocommit=True)
    try:
        a.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        assert a.execute("SELECT v FROM p3_ser WHERE k = 1").fetchone() == (0,)
        b.execute("UPDATE p3_ser SET v = v + 1 WHERE k = 1")
        try:
            a.execute("UPDATE p3_ser SET v = v + 10 WHERE k = 1")
            a.commit()
        except errors.SerializationFailure as e:
            assert e.sqlstate == "40001"
            a.rollback()
        else:
            raise AssertionError("lost update was not detected")
        assert b.execute("SELECT v FROM p3_ser WHERE k = 1").fetchone() == (1,)
    finally:
        a.close()
        b.close()
    return "concurrent update under REPEATABLE READ raised SerializationFailure 40001"


@check
def type_info_fetch(kw):
    with connect(kw) as conn:
        info = TypeInfo.fetch(conn, "int4")
        assert info is not None and info.oid == 23 and info.array_oid == 1007, info
        assert info.name == "int4", info.name
        info = TypeInfo.fetch(conn, "numeric")
        assert info.oid == 1700 and info.array_oid == 1231, info
        assert TypeInfo.fetch(conn, "no_such_type") is None
    return "TypeInfo.fetch int4 (23/1007), numeric (1700/1231), unknown -> None"


@check
def copy_in_and_out(kw):
    with connect(kw, autocommit=True) as conn:
        fresh(conn, "p3_copy", "CREATE TABLE p3_copy (k int4, t text, n numeric, d date)")
        rows = [(i, f"row\t{i}" if i % 2 else None, Decimal(i) / 4, dt.date(2020, 1, 1 + i % 28))
                for i in range(200)]
        with conn.cursor() as cur:
            with cur.copy("COPY p3_copy (k, t, n, d) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
            assert cur.rowcount == 200, cur.rowcount
            assert conn.execute("SELECT count(*), sum(n) FROM p3_copy").fetchone() == (
                200, sum(r[2] for r in rows))
            got = []
            with cur.copy("COPY (SELECT k, t, n, d FROM p3_copy ORDER BY k) TO STDOUT") as copy:
                copy.set_types(["int4", "text", "numeric", "date"])
                got = list(copy.rows())
            assert got == rows, got[:3]
            with cur.copy("COPY p3_copy TO STDOUT") as copy:
                raw = b"".join(bytes(block) for block in copy)
            assert raw.count(b"\n") == 200 and b"row\\t1\t" in raw, raw[:80]
    return "COPY FROM STDIN write_row x200 (tabs, NULLs), COPY (SELECT) TO STDOUT rows(), raw"


@check
def notices(kw):
    with connect(kw, autocommit=True) as conn:
        seen = []
        conn.add_notice_handler(lambda diag: seen.append((diag.severity, diag.sqlstate, diag.message_primary)))
        conn.execute("DROP TABLE IF EXISTS p3_missing_table")
        assert len(seen) == 1, seen
        sev, code, msg = seen[0]
        assert sev == "NOTICE" and code == "00000", seen
        assert "p3_missing_table" in msg and "does not exist" in msg, msg
    return f"notice handler got {seen[0]}"


@check
def cancel_long_query(kw):
    with connect(kw) as conn:
        timer = threading.Timer(0.5, conn.cancel)
        timer.start()
        started = time.monotonic()
        try:
            conn.execute("SELECT count(*) FROM generate_series(1,3000) a, "
                         "generate_series(1,3000) b, generate_series(1,3000) c")
        except errors.QueryCanceled as e:
            assert e.sqlstate == "57014"
        else:
            raise AssertionError("the query was not cancelled")
        finally:
            timer.cancel()
        took = time.monotonic() - started
        conn.rollback()
        assert conn.execute("SELECT 2").fetchone() == (2,)
    return f"conn.cancel() from a timer thread raised QueryCanceled 57014 after {took:.1f}s"


@check
def statement_timeout(kw):
    with connect(kw, autocommit=True) as conn:
        conn.execute("SET statement_timeout = '300ms'")
        try:
            conn.execute("SELECT count(*) FROM generate_series(1,3000) a, "
                         "generate_series(1,3000) b, generate_series(1,3000) c")
        except errors.QueryCanceled as e:
            assert e.sqlstate == "57014"
        else:
            raise AssertionError("statement_timeout did not fire")
    return "SET statement_timeout cancels with QueryCanceled"


@check
def set_and_show(kw):
    with connect(kw, autocommit=True) as conn:
        conn.execute("SET application_name = 'p3test'")
        assert conn.execute("SHOW application_name").fetchone() == ("p3test",)
        assert conn.info.parameter_status("application_name") == "p3test"
        conn.execute("SET TimeZone = 'UTC'")
        assert conn.execute("SHOW TimeZone").fetchone() == ("UTC",)
        conn.execute("SET search_path TO public")
        assert conn.execute("SELECT current_setting('search_path')").fetchone() == ("public",)
        conn.execute("RESET application_name")
        assert conn.execute("SHOW application_name").fetchone() == ("",)
    return "SET/SHOW/RESET application_name (with ParameterStatus), TimeZone, search_path"


@check
def server_side_cursor(kw):
    with connect(kw) as conn:
        with conn.cursor(name="p3_named") as cur:
            cur.itersize = 7
            cur.execute("SELECT g FROM generate_series(1, 20) g")
            assert cur.fetchmany(3) == [(1,), (2,), (3,)]
            assert sum(1 for _ in cur) == 17
    return "named cursor (DECLARE ... CURSOR, FETCH FORWARD 7)"


if __name__ == "__main__":
    run_all(server_args())
