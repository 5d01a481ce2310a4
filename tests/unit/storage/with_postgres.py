#!/usr/bin/env python3
"""Runs a test program beside a real PostgreSQL: with_postgres.py PGLIB PROGRAM [ARGS...]

Starts `pglib.py serve` (a throw-away cluster on a free 127.0.0.1 port, as the
integration tests use), puts its URL in COFFER_TEST_PG_URL and its unix socket
directory in COFFER_TEST_PG_SOCKET, runs the program and exits with its status.
When PostgreSQL cannot be started the run FAILS (exit 1): the storage suite is
not allowed to pass without its PostgreSQL half."""

import json
import os
import subprocess
import sys


def main(argv):
    if len(argv) < 3:
        print("usage: with_postgres.py PGLIB PROGRAM [ARGS...]", file=sys.stderr)
        return 2
    pglib, prog = argv[1], argv[2:]
    server = subprocess.Popen([sys.executable, pglib, "serve"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        try:
            info = json.loads(line)
        except ValueError:
            info = {"error": f"pglib.py printed {line!r}"}
        if "error" in info:
            print(f"with_postgres: cannot start PostgreSQL: {info['error']}", file=sys.stderr)
            return 1
        env = dict(os.environ)
        env["COFFER_TEST_PG_URL"] = (
            f"postgresql://{info['user']}:{info['password']}@{info['host']}:{info['port']}"
            "/postgres?sslmode=disable")
        env["COFFER_TEST_PG_SOCKET"] = f"host={info['socket_dir']} port={info['port']} " \
                                       f"user={info['user']} dbname=postgres"
        return subprocess.run(prog, env=env).returncode
    finally:
        server.stdin.close()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
