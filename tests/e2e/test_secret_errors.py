#!/usr/bin/python3
"""Issue 15: a mistyped flag never prints the password. Every program (and logctl's subcommands)
is run with a broker URL holding a password next to a mistyped or unknown flag, and with such a URL
in a configuration file with a mistake: the error says what is wrong, and the password appears
neither on stdout nor on stderr (the URL shows with ***). A password in a --broker URL on the
command line (visible in ps) gets one warning pointing at --password-file and LOGSHIP_PASSWORD; one
from LOGSHIP_BROKER or a configuration file gets none."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import run_test  # noqa: E402

SECRET = f"S3cret-{os.getpid()}-pw"
URLS = [f"redis://:{SECRET}@127.0.0.1:1", f"amqp://guest:{SECRET}@127.0.0.1:1/"]
PROGRAMS = [("log_producer", []), ("log_aggregator", []), ("logctl", ["status"]), ("logctl", ["tail"]),
            ("logctl", ["setup"]), ("logctl", ["recover"])]


def errors_and_warnings(r):
    return ([l for l in r.err_lines if ": error:" in l], [l for l in r.err_lines if " warning " in l])


def no_secret(t, r, what):
    t.check(SECRET.encode() not in r.out and SECRET.encode() not in r.err,
            f"{what}: the password appears neither on stdout nor on stderr", r.describe())


def mistyped_flags(t):
    t.section("mistyped flags next to a URL with a password")
    for prog, sub in PROGRAMS:
        for url in URLS:
            for args, what in ((["--brokr", url], "--brokr URL"), (["--broker", url, "--bogus"], "--broker URL --bogus"),
                               (["--broker", url, "extra", "words"] if prog != "log_producer" else
                                ["--broker=" + url, "--level"], "--broker URL and stray words"),
                               ([f"--brokr={url}"], "--brokr=URL")):
                label = f"{' '.join([prog] + sub)} {what} ({url.split(':')[0]})"
                r = t.run(prog, sub + args, timeout=30, env=t.child_env(LOGSHIP_BROKER=None))
                errors, _ = errors_and_warnings(r)
                t.check(r.rc == 2 and len(errors) == 1, f"{label}: one error line, exit 2", r.describe())
                no_secret(t, r, label)
                t.check("://" not in r.err_text or ":***@" in r.err_text,
                        f"{label}: a URL in the message shows with *** for the password", r.describe())


def config_errors(t):
    t.section("a configuration file with a mistake next to a URL with a password")
    for i, text in enumerate((f'[log_producer]\nbroker = "{URLS[0]}"\nbrokr = "{URLS[0]}"\n',
                              f'[log_producer]\nbroker = ["{URLS[1]}", 5]\n',
                              f'[log_producer]\nbroker = "{URLS[1]}\n')):
        path = t.path(f"bad-{i}.toml")
        with open(path, "w") as f:
            f.write(text)
        r = t.run("log_producer", ["--config", path, "hello"], timeout=30, env=t.child_env(LOGSHIP_BROKER=None))
        errors, _ = errors_and_warnings(r)
        t.check(r.rc == 2 and len(errors) == 1, f"configuration file {i}: one error line, exit 2", r.describe())
        no_secret(t, r, f"configuration file {i}")


def password_warning(t):
    t.section("a password in a --broker URL on the command line: one warning")
    for url in URLS:
        for prog, sub in PROGRAMS[:3]:
            label = f"{' '.join([prog] + sub)} --broker {url.split(':')[0]}://...:PASSWORD@..."
            r = t.run(prog, sub + ["--broker", url, "--retry-seconds", "0"] + (["hello"] if prog == "log_producer" else [])
                      + (["--idle-exit", "1"] if prog == "log_aggregator" else []),
                      timeout=30, env=t.child_env(LOGSHIP_BROKER=None, LOGSHIP_PASSWORD=None))
            errors, warnings = errors_and_warnings(r)
            t.check(r.rc == 1 and len(errors) == 1, f"{label}: the broker is unreachable: exit 1", r.describe())
            t.check(len(warnings) == 1 and "--password-file" in warnings[0] and "LOGSHIP_PASSWORD" in warnings[0],
                    f"{label}: one warning pointing at --password-file and LOGSHIP_PASSWORD", r.describe())
            no_secret(t, r, label)
            r = t.run(prog, sub + ["--retry-seconds", "0"] + (["hello"] if prog == "log_producer" else [])
                      + (["--idle-exit", "1"] if prog == "log_aggregator" else []),
                      timeout=30, env=t.child_env(LOGSHIP_BROKER=url, LOGSHIP_PASSWORD=None))
            _, warnings = errors_and_warnings(r)
            t.check(r.rc == 1 and not warnings, f"{label} from LOGSHIP_BROKER: no warning", r.describe())
            no_secret(t, r, f"{label} from LOGSHIP_BROKER")
        path = t.path("good.toml")
        with open(path, "w") as f:
            f.write(f'[log_producer]\nbroker = "{url}"\nretry-seconds = 0\n')
        r = t.run("log_producer", ["--config", path, "hello"], timeout=30,
                  env=t.child_env(LOGSHIP_BROKER=None, LOGSHIP_PASSWORD=None))
        _, warnings = errors_and_warnings(r)
        t.check(r.rc == 1 and not warnings, "log_producer with the URL in a configuration file: no warning",
                r.describe())
        no_secret(t, r, "log_producer with the URL in a configuration file")


def body(t):
    mistyped_flags(t)
    config_errors(t)
    password_warning(t)


if __name__ == "__main__":
    run_test("secret_errors", body)
