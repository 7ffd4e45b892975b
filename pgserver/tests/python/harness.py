"""A tiny check runner shared by the driver scripts (no pytest on a clean machine).

Each check is a function registered with ``@check``; ``run_all`` runs them in order, prints
``ok NAME: what it verified`` or ``FAIL NAME`` with the traceback, and ends with one line
``failed checks: a,b`` (or ``failed checks: (none)``) that the Rust test compares with its
list of known gaps. The script itself exits 0 when it ran to the end, whatever failed, and
non-zero only when the harness could not run (bad arguments, no server): the gap list is
the Rust test's to judge, so a fixed gap shows up there as a failure to update the list.
"""

import sys
import traceback

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def run_all(connect_kwargs):
    failed = []
    for fn in CHECKS:
        try:
            said = fn(connect_kwargs)
            print(f"ok {fn.__name__}: {said}", flush=True)
        except Exception:  # a check failing must not stop the others
            failed.append(fn.__name__)
            print(f"FAIL {fn.__name__}:", flush=True)
            traceback.print_exc(file=sys.stdout)
            sys.stdout.flush()
    print("failed checks: " + (",".join(failed) if failed else "(none)"), flush=True)


def server_args():
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} HOST PORT")
    return {"host": sys.argv[1], "port": int(sys.argv[2]), "user": "postgres", "dbname": "postgres"}
