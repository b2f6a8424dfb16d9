#!/usr/bin/python3
"""Broker errors that say what happened, where and what to do (issue 14): each is one error line
naming the URL (password hidden), the cause and the remedy, exit 1.
- a port that accepts connections but never answers: 'no answer from URL within N s
  (--connect-timeout)', and the give-up note says --retry-seconds and the attempt's length;
- amqp: a redis:// URL pointed at RabbitMQ's AMQP port: 'does not answer as a Redis server', at once;
  a URL with a user but no password: 'no password was given';
- redis: a database number the server does not have: the range it has."""
# transports: amqp redis
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import run_test  # noqa: E402


def expect_failure(t, args, keywords, what, env=None, forbidden=()):
    r = t.run("log_producer", args + ["hello"], timeout=60, env=env)
    lines = r.err_lines
    last = lines[-1] if lines else ""
    ok = (r.rc == 1 and last.startswith("log_producer: error:") and all(k in last for k in keywords)
          and not any(f in r.err_text for f in forbidden))
    t.check(ok, f"{what}: exit 1, the error line names {keywords}", r.describe())
    return r


def unresponsive_port(t, scheme):
    t.section("a port that accepts connections but never answers")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)  # connections complete in the kernel's backlog; nobody ever answers
        port = listener.getsockname()[1]
        url = f"{scheme}://:s3cret@127.0.0.1:{port}" if scheme == "redis" else f"amqp://guest:s3cret@127.0.0.1:{port}/"
        shown = f"redis://:***@127.0.0.1:{port}" if scheme == "redis" else f"amqp://guest:***@127.0.0.1:{port}/"
        expect_failure(t, ["--broker", url, "--retry-seconds", "2", "--connect-timeout", "3"],
                       [f"no answer from {shown}", "within 3 s (--connect-timeout)", "--retry-seconds 2",
                        "one attempt can take --connect-timeout 3 s"],
                       f"{scheme} to a silent port", env=t.child_env(LOGSHIP_PASSWORD=None), forbidden=["s3cret"])


def amqp_cases(t):
    url = f"redis://127.0.0.1:{t.env.amqp_port}"
    r = expect_failure(t, ["--broker", url, "--retry-seconds", "30"],
                       [url, "does not answer as a Redis server", "use amqp://"], "redis:// to RabbitMQ's AMQP port")
    t.check(r.elapsed < 20, "a server that is not Redis is not retried for --retry-seconds", r.describe())
    expect_failure(t, ["--broker", f"amqp://guest@127.0.0.1:{t.env.amqp_port}/"],
                   [f"amqp://guest@127.0.0.1:{t.env.amqp_port}/", "no password was given", "LOGSHIP_PASSWORD"],
                   "a user without a password", env=t.child_env(LOGSHIP_PASSWORD=None))


def redis_cases(t):
    base = t.env.redis_url.rstrip("/")
    expect_failure(t, ["--broker", base + "/16"], ["cannot select database 16", "databases 0 to 15"],
                   "database 16 of a 16-database server", forbidden=[t.env.redis_password])


def body(t):
    unresponsive_port(t, t.env.transport)
    if t.env.transport == "redis":
        redis_cases(t)
    else:
        amqp_cases(t)


run_test("broker_errors", body)
