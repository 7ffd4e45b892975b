"""psycopg2 against a PostgreSQL-compatible server: usage ``psycopg2_test.py HOST PORT``.

Every check asserts what PostgreSQL 15 does. psycopg2 speaks only the simple protocol:
it interpolates ``%s`` parameters into the SQL text client-side, sends ``BEGIN`` before
the first statement when autocommit is off, and does COPY through ``copy_expert``.
Named cursors are ``DECLARE name CURSOR WITHOUT HOLD FOR ...`` plus ``FETCH FORWARD n``.
"""

import datetime as dt
import io
from decimal import Decimal

import psycopg2
import psycopg2.errors
import psycopg2.extensions as ext

from harness import check, run_all, server_args


def connect(kw):
    return psycopg2.connect(**kw)


def fresh(cur, name, ddl):
    cur.execute(f"DROP TABLE IF EXISTS {name}")
    cur.execute(ddl)


@check
def connect_and_select(kw):
    conn = connect(kw)
    try:
        cur = conn.cursor()
        cur.execute("SELECT %s + %s, %s", (1, 2, "it's"))
        assert cur.fetchone() == (3, "it's")
        assert conn.server_version >= 100000
        assert conn.encoding == "UTF8", conn.encoding
        # psycopg2 sent BEGIN first: the connection is inside a transaction now.
        assert conn.info.transaction_status == ext.TRANSACTION_STATUS_INTRANS
        assert conn.get_transaction_status() == ext.TRANSACTION_STATUS_INTRANS
    finally:
        conn.close()
    return "interpolated %s params incl. a quote; implicit BEGIN leaves the session INTRANS"


@check
def mogrify(kw):
    conn = connect(kw)
    try:
        cur = conn.cursor()
        q = cur.mogrify("SELECT %s, %s, %s, %s",
                        ("o'k", None, Decimal("1.50"), dt.date(2024, 1, 2)))
        assert q == b"SELECT 'o''k', NULL, 1.50, '2024-01-02'::date", q
        cur.execute(q)
        assert cur.fetchone() == ("o'k", None, Decimal("1.50"), dt.date(2024, 1, 2))
        cur.execute("SELECT %(a)s || %(a)s", {"a": "z"})
        assert cur.fetchone() == ("zz",)
    finally:
        conn.close()
    return "mogrify quoting of str/None/Decimal/date, then running it; named %(a)s params"


@check
def commit_and_rollback(kw):
    conn = connect(kw)
    try:
        cur = conn.cursor()
        fresh(cur, "p2_tx", "CREATE TABLE p2_tx (k int4 PRIMARY KEY, v text)")
        conn.commit()
        cur.execute("INSERT INTO p2_tx VALUES (%s, %s)", (1, "kept"))
        conn.commit()
        cur.execute("INSERT INTO p2_tx VALUES (%s, %s)", (2, "gone"))
        other = connect(kw)
        ocur = other.cursor()
        ocur.execute("SELECT k FROM p2_tx ORDER BY k")
        assert ocur.fetchall() == [(1,)], "uncommitted row visible to another session"
        other.close()
        conn.rollback()
        cur.execute("SELECT k, v FROM p2_tx ORDER BY k")
        assert cur.fetchall() == [(1, "kept")]
        conn.rollback()
        with conn:  # commits on success
            cur.execute("INSERT INTO p2_tx VALUES (3, 'ctx')")
        try:
            with conn:  # rolls back on exception
                cur.execute("INSERT INTO p2_tx VALUES (4, 'ctx')")
                raise RuntimeError
        except RuntimeError:
            pass
        cur.execute("SELECT k FROM p2_tx ORDER BY k")
        assert cur.fetchall() == [(1,), (3,)], "context manager commit/rollback"
        conn.rollback()
    finally:
        conn.close()
    return "commit visible, uncommitted invisible to others, rollback, `with conn` blocks"


@check
def types_round_trip(kw):
    conn = connect(kw)
    try:
        cur = conn.cursor()
        fresh(cur, "p2_types", """CREATE TABLE p2_types (
            id int4, i2 int2, i8 int8, n numeric, f8 float8, t text, b bool, d date,
            ts timestamp, tz timestamptz, iv interval, by bytea)""")
        cur.execute("SET TIME ZONE 'UTC'")
        row = (1, -3, 2**40, Decimal("-12.3400"), 0.1, "tab\there", False, dt.date(1999, 12, 31),
               dt.datetime(2000, 1, 1, 0, 0, 1, 500000),
               dt.datetime(2021, 6, 1, 8, 30, tzinfo=dt.timezone.utc),
               dt.timedelta(days=-1, seconds=30), b"\x00\\\xff'")
        cur.execute("INSERT INTO p2_types VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                    row)
        cur.execute("INSERT INTO p2_types (id) VALUES (2)")
        cur.execute("SELECT * FROM p2_types ORDER BY id")
        got = cur.fetchall()
        first = got[0][:11] + (bytes(got[0][11]),)
        assert first == row, got[0]
        assert got[1] == (2,) + (None,) * 11, got[1]
        assert [d.name for d in cur.description][:3] == ["id", "i2", "i8"]
        assert cur.description[3].type_code == 1700, cur.description[3]
        conn.rollback()
    finally:
        conn.close()
    return "int2/4/8, numeric, float8, text, bool, date, timestamp(tz), interval, bytea, NULLs"


@check
def copy_expert_csv(kw):
    conn = connect(kw)
    try:
        cur = conn.cursor()
        fresh(cur, "p2_copy", "CREATE TABLE p2_copy (k int4, t text, n numeric)")
        data = "k,t,n\n1,plain,1.5\n2,\"with, comma\",\n3,\"quote \"\"q\"\"\",-2\n4,,0\n"
        cur.copy_expert("COPY p2_copy FROM STDIN WITH (FORMAT csv, HEADER true)", io.StringIO(data))
        assert cur.rowcount == 4, cur.rowcount
        cur.execute("SELECT k, t, n FROM p2_copy ORDER BY k")
        assert cur.fetchall() == [(1, "plain", Decimal("1.5")), (2, "with, comma", None),
                                  (3, 'quote "q"', Decimal("-2")), (4, None, Decimal("0"))]
        out = io.StringIO()
        cur.copy_expert("COPY (SELECT k, t, n FROM p2_copy ORDER BY k) TO STDOUT WITH CSV HEADER", out)
        assert out.getvalue() == (
            'k,t,n\n1,plain,1.5\n2,"with, comma",\n3,"quote ""q""",-2\n4,,0\n'), out.getvalue()
        conn.commit()
    finally:
        conn.close()
    return "copy_expert CSV with HEADER in (quotes, commas, NULLs) and out"


@check
def error_codes(kw):
    conn = connect(kw)
    conn.autocommit = True
    try:
        cur = conn.cursor()
        fresh(cur, "p2_err", "CREATE TABLE p2_err (k int4 PRIMARY KEY)")
        cur.execute("INSERT INTO p2_err VALUES (1)")
        cases = [
            ("INSERT INTO p2_err VALUES (1)", psycopg2.errors.UniqueViolation, "23505"),
            ("SELECT * FROM p2_missing", psycopg2.errors.UndefinedTable, "42P01"),
            ("SELEC 1", psycopg2.errors.SyntaxError, "42601"),
            ("SELECT 1/0", psycopg2.errors.DivisionByZero, "22012"),
            ("SELECT 'x'::int4", psycopg2.errors.InvalidTextRepresentation, "22P02"),
        ]
        for sql, cls, code in cases:
            try:
                cur.execute(sql)
            except psycopg2.Error as e:
                assert type(e) is cls, f"{sql}: {type(e).__name__} {e.pgcode} {e}"
                assert e.pgcode == code, (sql, e.pgcode)
                assert e.pgerror and e.pgerror.startswith("ERROR:"), e.pgerror
                assert e.diag.sqlstate == code
            else:
                raise AssertionError(f"{sql} did not fail")
        assert isinstance(psycopg2.errors.lookup("40001")(), psycopg2.extensions.TransactionRollbackError)
    finally:
        conn.close()
    conn = connect(kw)
    try:
        cur = conn.cursor()
        try:
            cur.execute("SELECT * FROM p2_missing")
        except psycopg2.errors.UndefinedTable:
            pass
        try:
            cur.execute("SELECT 1")
        except psycopg2.errors.InFailedSqlTransaction as e:
            assert e.pgcode == "25P02"
        else:
            raise AssertionError("a failed transaction accepted a statement")
        conn.rollback()
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    finally:
        conn.close()
    return "pgcode/pgerror for 23505 42P01 42601 22012 22P02 25P02"


@check
def autocommit_mode(kw):
    conn = connect(kw)
    conn.autocommit = True
    try:
        cur = conn.cursor()
        fresh(cur, "p2_auto", "CREATE TABLE p2_auto (k int4)")
        cur.execute("INSERT INTO p2_auto VALUES (1)")
        assert conn.info.transaction_status == ext.TRANSACTION_STATUS_IDLE
        other = connect(kw)
        ocur = other.cursor()
        ocur.execute("SELECT count(*) FROM p2_auto")
        assert ocur.fetchone() == (1,)
        other.close()
        cur.execute("BEGIN")
        cur.execute("INSERT INTO p2_auto VALUES (2)")
        cur.execute("ROLLBACK")
        cur.execute("SELECT count(*) FROM p2_auto")
        assert cur.fetchone() == (1,)
        cur.execute("SHOW transaction_isolation")
        iso = cur.fetchone()[0]
        conn.set_session(isolation_level="REPEATABLE READ", autocommit=False)
        cur.execute("SHOW transaction_isolation")
        assert cur.fetchone() == ("repeatable read",)
        conn.rollback()
    finally:
        conn.close()
    return f"autocommit visible at once, explicit BEGIN/ROLLBACK, default isolation {iso!r}, set_session"


@check
def many_and_batch(kw):
    conn = connect(kw)
    try:
        cur = conn.cursor()
        fresh(cur, "p2_many", "CREATE TABLE p2_many (k int4 PRIMARY KEY, v text)")
        cur.executemany("INSERT INTO p2_many VALUES (%s, %s)", [(i, str(i)) for i in range(30)])
        assert cur.rowcount == 30, cur.rowcount
        from psycopg2.extras import execute_values
        execute_values(cur, "INSERT INTO p2_many VALUES %s", [(i, "ev") for i in range(30, 60)])
        cur.execute("SELECT count(*), count(*) FILTER (WHERE v = 'ev') FROM p2_many")
        assert cur.fetchone() == (60, 30)
        conn.commit()
    finally:
        conn.close()
    return "executemany rowcount, extras.execute_values multi-row VALUES"


@check
def named_cursor(kw):
    conn = connect(kw)
    try:
        cur = conn.cursor(name="p2_named")
        cur.itersize = 7
        cur.execute("SELECT g FROM generate_series(1, 20) g")
        assert cur.fetchmany(3) == [(1,), (2,), (3,)]
        assert sum(1 for _ in cur) == 17
        cur.close()
        conn.commit()
    finally:
        conn.close()
    return "named cursor: DECLARE p2_named CURSOR ... FETCH FORWARD 7"


if __name__ == "__main__":
    run_all(server_args())
