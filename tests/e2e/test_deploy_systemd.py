#!/usr/bin/python3
"""deploy/systemd/: the unit files are valid and their command lines work (no systemd as PID 1 needed).

(a) `systemd-analyze verify` accepts every unit and an instance of each template, with the
    binaries' directory pointed at this build: no warning at all (unknown keys, bad values and
    missing executables are all reported).
(b) The settings the deployment guide promises: SIGTERM with a TimeoutStopSec, a restart policy
    that does not restart usage errors (exit 2), the password only through LoadCredential= and
    --password-file (never on the command line or in Environment=), the settings from
    /etc/logship/logship.toml (--config), the optional environment file.
(c) deploy/systemd/logship.toml.example loads in every program. Each ExecStart, expanded as systemd
    would (specifiers %i %f %d, $VAR and $$, the environment file, the configuration file) and run
    against the test broker: the aggregator writes what was sent, the producer agent
    ships the lines appended to its file; the aggregator's ExecReload (systemctl reload, what
    logrotate's postrotate runs) after its output was renamed sends the next records to a new file
    at the path; SIGTERM (to the main process, or to every process for the producer, per KillMode)
    stops them within TimeoutStopSec with exit 0, every record written. The producer agent
    (log_producer --follow) starts at the end of its file the first time, and after a stop sends
    the lines written while it was stopped, exactly once, from its state in the StateDirectory.
"""
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import Proc, count_lines, run_test, wait_for  # noqa: E402

UNITS = ("logship-aggregator.service", "logship-aggregator@.service", "logship-producer@.service")


def parse_unit(path):
    """{(section, key): [values]} of a unit file."""
    out, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            key, _, value = line.partition("=")
            out.setdefault((section, key.strip()), []).append(value.strip())
    return out


def one(unit, key, section="Service"):
    values = unit.get((section, key), [])
    return values[-1] if values else None


def expand_exec(line, specifiers, env):
    """ExecStart as systemd runs it: specifiers, then $VAR / ${VAR} (a lone $VAR splits into words), $$ -> $."""
    line = re.sub(r"%([a-zA-Z%])", lambda m: "%" if m.group(1) == "%" else specifiers[m.group(1)], line)
    words = []
    for word in shlex.split(line):
        if re.fullmatch(r"\$[A-Za-z_][A-Za-z0-9_]*", word):
            words += env.get(word[1:], "").split()
            continue
        word = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m.group(1), ""), word)
        words.append(word.replace("$$", "$"))
    return words


def read_env_file(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                k, _, v = line.partition("=")
                env[k] = v
    return env


def body(t):
    src = os.path.join(t.env.source, "deploy", "systemd")
    units = {u: parse_unit(os.path.join(src, u)) for u in UNITS}

    t.section("(a) systemd-analyze verify")
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        t.note("systemd-analyze is not installed: (a) skipped; (b) and (c) still run")
    else:
        d = t.path("units")
        os.makedirs(d)
        for u in UNITS:
            with open(os.path.join(src, u)) as f, open(os.path.join(d, u), "w") as g:
                g.write(f.read().replace("/usr/local/bin/", t.env.bin + "/"))
        for name in ("logship-aggregator.service", "logship-aggregator@.service", "logship-aggregator@2.service",
                     "logship-producer@.service", "logship-producer@var-log-app.log.service"):
            cp = subprocess.run([analyze, "verify", "--man=no", os.path.join(d, name)], capture_output=True,
                                timeout=60, cwd=d)
            complaints = [l for l in (cp.stdout + cp.stderr).decode(errors="replace").splitlines()
                          if "logship" in l]
            t.check(cp.returncode == 0 and not complaints, f"systemd-analyze verify {name}: no complaint",
                    cp.stdout + cp.stderr)

    t.section("(b) the promised settings")
    for name, u in units.items():
        t.check_equal(one(u, "KillSignal"), "SIGTERM", f"{name}: KillSignal=SIGTERM")
        stop = one(u, "TimeoutStopSec")
        t.check(stop is not None and 30 <= int(stop) <= 120, f"{name}: TimeoutStopSec={stop} covers the 15-30 s "
                "a graceful stop may take")
        t.check(one(u, "Restart") in ("on-failure", "always"), f"{name}: Restart={one(u, 'Restart')}")
        t.check_equal(one(u, "RestartPreventExitStatus"), "2", f"{name}: usage errors (exit 2) are not restarted")
        t.check_equal(u.get(("Service", "LoadCredential")), ["broker-password:/etc/logship/broker-password"],
                      f"{name}: the password comes from a credential")
        exec_start = one(u, "ExecStart")
        t.check("--password-file" in exec_start and ("CREDENTIALS_DIRECTORY" in exec_start or "%d/" in exec_start),
                f"{name}: ExecStart reads it with --password-file from the credentials directory")
        t.check(not re.search(r"(?i)LOGSHIP_PASSWORD|--password[ =]|:[^@/ ]+@", exec_start)
                and ("Service", "Environment") not in u,
                f"{name}: no password on the command line or in Environment=")
        t.check("--config /etc/logship/logship.toml" in exec_start,
                f"{name}: reads its settings from /etc/logship/logship.toml (--config)")
        t.check("-/etc/logship/logship.env" in u.get(("Service", "EnvironmentFile"), []),
                f"{name}: reads the optional /etc/logship/logship.env")
        t.check_equal(one(u, "User"), "logship", f"{name}: runs as user logship")
        if name.startswith("logship-aggregator"):
            t.check_equal(one(u, "ExecReload"), "/bin/kill -HUP $MAINPID",
                          f"{name}: systemctl reload sends SIGHUP (reopen the output after logrotate)")

    t.section("(c) the command lines, run as systemd would")
    creds = t.path("credentials")
    os.makedirs(creds)
    with open(os.path.join(creds, "broker-password"), "w") as f:
        f.write("guest\n")
    os.chmod(os.path.join(creds, "broker-password"), 0o600)
    env_file = read_env_file(os.path.join(src, "logship.env.example"))
    config = t.path("logship.toml")  # /etc/logship/logship.toml
    shutil.copyfile(os.path.join(src, "logship.toml.example"), config)
    logdir = t.path("var-log-logship")
    state_root = t.path("var-lib")  # %S
    agent_instance = "var-log-app.log"  # %i: systemd-escape --path /var/log/app.log
    state_dir = os.path.join(state_root, "logship", "producer", agent_instance)
    os.makedirs(state_dir, mode=0o700)  # systemd creates the StateDirectory= before ExecStart

    def service_env():
        e = t.child_env(LOGSHIP_PASSWORD=None)
        e.update(env_file)
        e["LOGSHIP_BROKER"] = t.env.broker_url(password="not-this-one")  # the credential must win
        e["CREDENTIALS_DIRECTORY"] = creds
        e["STATE_DIRECTORY"] = state_dir  # StateDirectory= (the producer's spool and follow state)
        return e

    def localize(words):
        return [w.replace("/usr/local/bin/", t.env.bin + "/").replace("/var/log/logship", logdir)
                .replace("/etc/logship/logship.toml", config) for w in words]

    # logctl's password file (/etc/logship/broker-password) is replaced by one on the command line.
    for prog, args in (("log_aggregator", []), ("log_producer", []),
                       ("logctl", ["status", "--password-file", os.path.join(creds, "broker-password")])):
        r = t.run(prog, args + ["--config", config, "--print-config"], env=t.child_env(LOGSHIP_BROKER=None))
        t.check(r.rc == 0 and 'broker = "amqp://logship@mq.example:5672/"' in r.out_text,
                f"{prog} loads logship.toml.example (the broker from the file)", r.describe())

    for name, instance in (("logship-aggregator.service", None), ("logship-aggregator@.service", "2")):
        q = t.queue(f"unit{instance or ''}")
        u = units[name]
        env = service_env()
        env["LOGSHIP_AGGREGATOR_OPTIONS"] = env.get("LOGSHIP_AGGREGATOR_OPTIONS", "") + f" --queue {q}"
        argv = localize(expand_exec(one(u, "ExecStart"), {"d": creds, "i": instance or ""}, env))
        t.check(argv[:3] == [t.env.prog("log_aggregator"), "--config", config] and argv[-2:] == ["--queue", q],
                f"{name}: ExecStart expands to log_aggregator --config FILE ... --queue (extra flags from the "
                "environment)", argv)
        r = t.run("log_aggregator", argv[1:] + ["--print-config"], env=env)
        t.check(r.rc == 0 and f'format = "text"  # {config}:' in r.out_text and
                f'queue = "{q}"  # command line' in r.out_text and "--password-file" not in r.out_text
                and "environment LOGSHIP_BROKER" in r.out_text,
                f"{name}: the format comes from the file, the queue from the extra flags, the broker from the "
                "environment", r.describe())
        output = argv[argv.index("--output") + 1]
        os.makedirs(os.path.dirname(output), exist_ok=True)  # LogsDirectory=
        p = Proc(t, f"unit-agg{instance or ''}", argv, env=env)
        t.wait_ready(p)
        t.produce(q, b"".join(f"via unit {i}\n".encode() for i in range(50)))
        t.check(wait_for(lambda: count_lines(output) == 50, 30), f"{name}: the 50 records are written",
                count_lines(output))
        # logrotate: rename (and create), then postrotate's `systemctl reload` runs ExecReload.
        os.rename(output, output + ".1")
        open(output, "w").close()
        reload = expand_exec(one(u, "ExecReload").replace("$MAINPID", str(p.pid)), {}, env)
        cp = subprocess.run(reload, capture_output=True, timeout=30)
        t.check(cp.returncode == 0, f"{name}: ExecReload runs ({' '.join(reload)})", cp.stderr)
        t.produce(q, b"".join(f"after reload {i}\n".encode() for i in range(30)))
        t.check(wait_for(lambda: count_lines(output) == 30, 30) and count_lines(output + ".1") == 50,
                f"{name}: after the reload the next records go to the new file at the path, none lost",
                (count_lines(output + ".1"), count_lines(output)))
        start = time.monotonic()
        p.send_signal(signal.SIGTERM)  # KillMode=mixed: the main process only
        rc = p.wait(int(one(u, "TimeoutStopSec")))
        took = time.monotonic() - start
        if rc is None:
            p.kill()
        t.check(rc == 0, f"{name}: SIGTERM stops it with exit 0 in {took:.1f} s (TimeoutStopSec "
                f"{one(u, 'TimeoutStopSec')})", p.result().describe())

    u = units["logship-producer@.service"]
    q = t.queue("agent")
    watched = t.path("app.log")
    with open(watched, "w") as f:
        f.write("old line, written before the agent started: not shipped\n")
    env = service_env()
    env["LOGSHIP_PRODUCER_OPTIONS"] = env.get("LOGSHIP_PRODUCER_OPTIONS", "") + f" --queue {q}"
    specifiers = {"d": creds, "f": watched, "S": state_root, "i": agent_instance}
    argv = localize(expand_exec(one(u, "ExecStart"), specifiers, env))
    t.check(os.path.basename(argv[0]) == "log_producer" and argv[argv.index("--follow") + 1] == watched
            and argv[argv.index("--spool-dir") + 1] == state_dir,
            "the agent's ExecStart is log_producer --follow FILE with its spool in the StateDirectory", argv)
    out = t.path("agent-out.log")
    drainer = t.start_aggregator("agent-drain", q, out)

    def start_agent(name):
        agent = Proc(t, name, argv, env=env)
        # The first start reads from the end: the state file says when the file is open.
        t.check(wait_for(lambda: os.path.exists(os.path.join(state_dir, "follow.state")), 30),
                f"{name}: follow.state is in the StateDirectory", os.listdir(state_dir))
        return agent

    def stop_agent(agent, name, sent):
        # KillMode=control-group: SIGTERM goes to every process of the unit.
        start = time.monotonic()
        unit_pids = [agent.pid] + children(agent.pid)
        for pid in unit_pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        # As systemd does: the stop is over when every process of the unit is gone.
        limit = int(one(u, "TimeoutStopSec"))
        rc = agent.wait(limit)
        gone = wait_for(lambda: not any(os.path.exists(f"/proc/{p}") and not zombie(p) for p in unit_pids[1:]),
                        max(limit - (time.monotonic() - start), 1))
        took = time.monotonic() - start
        if rc is None or not gone:
            agent.kill()
            for pid in unit_pids[1:]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        t.check(rc == 0 and gone, f"{name}: every process of the agent is gone {took:.1f} s after SIGTERM, exit 0 "
                f"(TimeoutStopSec {limit})", agent.result().describe())
        t.check(f"sent {sent} records".encode() in agent.stderr() and b"all confirmed" in agent.stderr(),
                f"{name}: log_producer reports its {sent} records confirmed before it exits",
                agent.result().describe())

    agent = start_agent("agent")
    with open(watched, "a") as f:
        for i in range(20):
            f.write(f"agent line {i}\n")
    t.check(wait_for(lambda: count_lines(out) == 20, 30), "the 20 appended lines are shipped", count_lines(out))
    with open(out) as f:
        got = f.read().splitlines()
    t.check_equal(got, [f"agent line {i}" for i in range(20)], "exactly the appended lines, in order")
    stop_agent(agent, "agent", 20)
    t.check(any(n != "follow.state" and not n.endswith(".lock") for n in os.listdir(state_dir)),
            "the agent keeps its spool in the StateDirectory", os.listdir(state_dir))

    # Stopped (an upgrade, a reboot): what is written meanwhile is sent at the next start, once.
    with open(watched, "a") as f:
        for i in range(20, 35):
            f.write(f"agent line {i}\n")
    agent = start_agent("agent restarted")
    with open(watched, "a") as f:
        for i in range(35, 40):
            f.write(f"agent line {i}\n")
    t.check(wait_for(lambda: count_lines(out) == 40, 30),
            "after the restart the 15 lines written while it was stopped and 5 new ones are shipped",
            count_lines(out))
    time.sleep(1)
    with open(out) as f:
        got = f.read().splitlines()
    t.check_equal(got, [f"agent line {i}" for i in range(40)], "every line once, in order, none from before the "
                  "first start")
    stop_agent(agent, "agent restarted", 20)
    drainer.send_signal(signal.SIGTERM)
    t.finish_proc(drainer, 30)


def zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def children(pid):
    """Every descendant of `pid` (from /proc), deepest last."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                kids = [int(k) for k in f.read().split()]
        except OSError:
            kids = []
        out += kids
        todo += kids
    return out


run_test("deploy_systemd", body)
