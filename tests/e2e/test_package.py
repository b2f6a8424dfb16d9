#!/usr/bin/python3
"""The Debian packages (make deb, cmake/Packaging.cmake), built from this build tree, installed on
this machine with apt-get, used, and purged:
(a) cpack writes logship_V_ARCH.deb, liblogship-client0.1_V_ARCH.deb and liblogship-client-dev_V_ARCH.deb
    (V: the project version); their Depends name the broker libraries (dpkg-shlibdeps) and the
    -dev package needs the runtime package of the same version; lintian (when installed) reports
    no error.
(b) `apt-get install ./*.deb` works; the three programs are in /usr/bin and say the version;
    the system user logship (home /var/lib/logship, no login shell) exists; the units are in
    /lib/systemd/system, run /usr/bin's programs and pass `systemd-analyze verify`;
    /etc/logship/logship.toml is a conffile that lists every setting of every program, all
    commented out, and loads; the logrotate snippet is a conffile logrotate accepts; the man pages
    (when the build has them: log_producer(1), log_aggregator(1), logctl(1), logship.toml(5)) are
    found by `man -w`, gzipped.
(c) The tutorial from /usr/bin: log_producer "Log Entry 1: This is a sample log." then
    log_aggregator writes that one line.
(d) The -dev package: a program (tests/install_consumer/main.cpp) built with pkg-config and the
    same program built with CMake (find_package(logship)) against /usr alone; each run's 80
    records all arrive.
(e) `apt-get purge` leaves nothing of the packages: no file they installed, no /etc/logship (with
    the password file an administrator adds), /var/lib/logship or /var/log/logship. The logship
    user may stay (Debian policy 9.2.1).
The packages are purged at the end whatever happened (also when a check failed). Needs root (exits
77, "skipped", otherwise) and refuses to run where Logship's packages or directories already exist.
"""
import glob
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import count_lines, read_lines, run_test  # noqa: E402

PACKAGES = ("logship", "liblogship-client0.1", "liblogship-client-dev")
PROGRAMS = ("log_producer", "log_aggregator", "logctl")
UNITS = ("logship-aggregator.service", "logship-aggregator@.service", "logship-producer@.service")
SYSTEM_DIRS = ("/etc/logship", "/var/lib/logship", "/var/log/logship")
APT_ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
APT = ["apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=600"]


def sh(args, timeout=600, env=None, cwd=None):
    cp = subprocess.run(args, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL, env=env, cwd=cwd)
    return cp.returncode, (cp.stdout + cp.stderr).decode(errors="replace")


def installed(package):
    rc, out = sh(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", package])
    return rc == 0 and out.startswith("ii")


def project_version(build):
    with open(os.path.join(build, "CMakeCache.txt")) as f:
        m = re.search(r"^CMAKE_PROJECT_VERSION:STATIC=(.+)$", f.read(), re.M)
    return m.group(1) if m else None


def settings_by_table(text):
    """{table: {key}} of the commented settings ("# key = ...") of a --print-config style file."""
    tables, table = {}, ""
    for line in text.splitlines():
        if line.startswith("["):
            table = line.strip("[]")
            tables.setdefault(table, set())
        m = re.match(r"^# ([a-z0-9-]+) =", line)
        if m and table:
            tables[table].add(m.group(1))
    return tables


def build_packages(t, build, version):
    t.section("(a) the packages")
    out_dir = t.path("debs")
    rc, out = sh(["cpack", "-G", "DEB", "-B", out_dir], cwd=build)
    t.require(rc == 0, "cpack -G DEB builds the packages from the build tree", out[-3000:])
    arch = sh(["dpkg", "--print-architecture"])[1].strip()
    debs = {p: os.path.join(out_dir, f"{p}_{version}_{arch}.deb") for p in PACKAGES}
    for p, path in debs.items():
        t.require(os.path.isfile(path), f"{os.path.basename(path)} is written (version {version} from CMakeLists.txt)",
                  os.listdir(out_dir))
    field = lambda p, f: sh(["dpkg-deb", "-f", debs[p], f])[1].strip()  # noqa: E731
    depends = field("logship", "Depends")
    t.check(all(lib in depends for lib in ("librabbitmq4", "libhiredis", "libzstd1", "adduser")),
            "logship Depends on the libraries its programs link (dpkg-shlibdeps) and on adduser", depends)
    t.check("librabbitmq4" in field("liblogship-client0.1", "Depends"),
            "liblogship-client0.1 Depends on the libraries it links", field("liblogship-client0.1", "Depends"))
    t.check_equal(field("liblogship-client-dev", "Depends"), f"liblogship-client0.1 (= {version})",
                  "liblogship-client-dev needs the runtime library of the same version")
    if shutil.which("lintian"):
        rc, out = sh(["lintian", "--fail-on", "error"] + list(debs.values()), timeout=900)
        errors = [l for l in out.splitlines() if l.startswith("E:")]
        t.check(rc == 0 and not errors, "lintian reports no error", out[-3000:])
        t.note("lintian: " + "; ".join(l for l in out.splitlines() if l.startswith("W:")))
    else:
        t.note("lintian is not installed (scripts/install-deps.sh installs it): not run")
    return debs


def check_installed(t, version):
    t.section("(b) installed: programs, user, units, conffile, man pages")
    for prog in PROGRAMS:
        rc, out = sh([f"/usr/bin/{prog}", "--version"])
        t.check(rc == 0 and version in out, f"/usr/bin/{prog} --version says {version}", out)
    rc, pw = sh(["getent", "passwd", "logship"])
    fields = pw.strip().split(":")
    t.check(rc == 0 and len(fields) == 7 and int(fields[2]) < 1000 and fields[5] == "/var/lib/logship"
            and fields[6] in ("/usr/sbin/nologin", "/bin/false"),
            "the system user logship exists (system uid, home /var/lib/logship, no login shell)", pw)
    t.check(sh(["getent", "group", "logship"])[0] == 0, "its group logship exists")
    owner = os.stat("/var/lib/logship").st_uid if os.path.isdir("/var/lib/logship") else None
    t.check(len(fields) == 7 and owner == int(fields[2]), "/var/lib/logship (the state) exists, owned by logship",
            owner)
    for u in UNITS:
        path = os.path.join("/lib/systemd/system", u)
        text = open(path).read() if os.path.isfile(path) else ""
        starts = re.findall(r"^ExecStart=(\S+)", text, re.M)
        t.check(starts and all(s.startswith("/usr/bin/") for s in starts) and "User=logship" in text,
                f"{path} runs /usr/bin's program as logship", starts)
    analyze = shutil.which("systemd-analyze")
    if analyze:
        for name in ("logship-aggregator.service", "logship-aggregator@2.service",
                     "logship-producer@var-log-app.log.service"):
            rc, out = sh([analyze, "verify", "--man=no", os.path.join("/lib/systemd/system", name)], cwd=t.tmp)
            complaints = [l for l in out.splitlines() if "logship" in l]
            t.check(rc == 0 and not complaints, f"systemd-analyze verify {name}: no complaint", out)
    else:
        t.note("systemd-analyze is not installed: the units are not verified")
    conffiles = sh(["dpkg-query", "-W", "-f=${Conffiles}", "logship"])[1]
    for f in ("/etc/logship/logship.toml", "/etc/logrotate.d/logship"):
        t.check(f in conffiles, f"{f} is a conffile", conffiles)
    check_conffile(t)
    if shutil.which("logrotate"):
        rc, out = sh(["logrotate", "-d", "/etc/logrotate.d/logship"])
        t.check(rc == 0, "logrotate accepts /etc/logrotate.d/logship", out[-2000:])
    pages = [l for l in sh(["dpkg", "-L", "logship"])[1].splitlines() if l.startswith("/usr/share/man/")
             and l.endswith(".gz")]
    if pages:
        for page in [[p] for p in PROGRAMS] + [["5", "logship.toml"]]:
            rc, out = sh(["man", "-w"] + page)
            t.check(rc == 0 and out.strip().startswith("/usr/share/man/") and out.strip().endswith(".gz"),
                    f"man -w {' '.join(page)} finds its page, gzipped", out)
    else:
        t.note("this build installs no man page: man -w not checked")


def check_conffile(t):
    text = open("/etc/logship/logship.toml").read()
    live = [l for l in text.splitlines() if l.strip() and not l.startswith(("#", "["))]
    t.check(not live, "every setting in /etc/logship/logship.toml is commented out", live)
    listed = settings_by_table(text)
    for prog, args in (("log_aggregator", []), ("log_producer", []), ("logctl", [])):
        rc, out = sh(["env", "-i", f"/usr/bin/{prog}"] + args + ["--print-config"])
        want = settings_by_table(out)
        missing = {table: sorted(keys - listed.get(table, set())) for table, keys in want.items()
                   if keys - listed.get(table, set())}
        t.check(rc == 0 and want and not missing, f"the conffile lists every setting of {prog}", missing or out)
        rc, out = sh(["env", "-i", f"/usr/bin/{prog}"] + (["status"] if prog == "logctl" else [])
                     + ["--config", "/etc/logship/logship.toml", "--print-config"])
        t.check(rc == 0, f"{prog} loads /etc/logship/logship.toml", out[-2000:])


def tutorial(t):
    t.section("(c) the tutorial, from /usr/bin")
    q = t.queue("tutorial")
    env = t.child_env()
    rc, out = sh(["/usr/bin/log_producer", "--queue", q, "Log Entry 1: This is a sample log."], env=env, timeout=120)
    t.check(rc == 0 and " [x] Sent 'Log Entry 1: This is a sample log.'" in out,
            "/usr/bin/log_producer \"Log Entry 1: This is a sample log.\" sends it", out)
    output = t.path("tutorial.txt")
    rc, out = sh(["/usr/bin/log_aggregator", "--queue", q, "--output", output, "--idle-exit", "2"], env=env,
                 timeout=180)
    lines, _ = read_lines(output)
    t.check(rc == 0 and len(lines) == 1 and lines[0].endswith(b"Log Entry 1: This is a sample log."),
            "/usr/bin/log_aggregator writes that one line", (rc, out, lines))


def drain_count(t, q, label):
    output = t.path(f"{label}.txt")
    rc, out = sh(["/usr/bin/log_aggregator", "--queue", q, "--output", output, "--idle-exit", "2"],
                 env=t.child_env(), timeout=180)
    return count_lines(output) if rc == 0 and os.path.exists(output) else (rc, out)


def dev_package(t):
    t.section("(d) the -dev package: pkg-config and CMake")
    source = os.path.join(t.env.source, "tests", "install_consumer")
    rc, version = sh(["pkg-config", "--modversion", "logship-client"])
    t.check(rc == 0, f"pkg-config knows logship-client ({version.strip()})", version)
    rc, flags = sh(["pkg-config", "--cflags", "--libs", "logship-client", "spdlog"])
    exe = t.path("consumer-pkgconfig")
    rc, out = sh(["c++", "-std=c++20", "-o", exe, os.path.join(source, "main.cpp")] + flags.split())
    t.require(rc == 0, "the program builds with $(pkg-config --cflags --libs logship-client spdlog)", out)
    build = t.path("consumer-cmake")
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    rc, out = sh(["cmake", "-S", source, "-B", build, "-DCMAKE_BUILD_TYPE=Release"] + generator)
    t.require(rc == 0 and "/usr/lib/cmake/logship" in open(os.path.join(build, "CMakeCache.txt")).read(),
              "it configures with find_package(logship) from /usr/lib/cmake/logship", out[-3000:])
    rc, out = sh(["cmake", "--build", build])
    t.require(rc == 0, "and builds with CMake", out[-3000:])
    for label, program in (("pkgconfig", exe), ("cmake", os.path.join(build, "consumer"))):
        rc, ldd = sh(["ldd", program])
        t.check(re.search(r"liblogship-client\.so\.\S+ => (/usr)?/lib/liblogship-client\.so", ldd),
                f"the {label} build runs with /usr/lib's library", ldd)
        q = t.queue(label)
        rc, out = sh([program, q, "50", "30"], env=t.child_env(), timeout=120)
        t.check(rc == 0 and "accepted=80 dropped=0" in out, f"the {label} build logs 80 records", out)
        t.check_equal(drain_count(t, q, label), 80, f"the {label} build's 80 records all arrive")


def purge(t, listed):
    t.section("(e) purge")
    # What an administrator adds, and what the services write: purge removes it too.
    os.makedirs("/var/lib/logship/producer/var-log-app.log", exist_ok=True)
    open("/var/lib/logship/producer/var-log-app.log/follow.state", "w").close()
    os.makedirs("/var/log/logship", exist_ok=True)
    open("/var/log/logship/aggregated_logs.txt", "w").close()
    with open("/etc/logship/broker-password", "w") as f:
        f.write("secret\n")
    rc, out = sh(APT + ["purge"] + list(PACKAGES), env=APT_ENV)
    t.check(rc == 0, "apt-get purge removes the packages", out[-3000:])
    t.check(not any(installed(p) for p in PACKAGES), "no package is left installed",
            sh(["dpkg", "-l"] + list(PACKAGES))[1])
    left = [p for p in listed if os.path.lexists(p) and not os.path.isdir(p)]
    t.check(not left, "no file the packages installed is left", left)
    left = [d for d in SYSTEM_DIRS if os.path.lexists(d)]
    t.check(not left, "/etc/logship, /var/lib/logship and /var/log/logship are gone", left)
    rc, _ = sh(["getent", "passwd", "logship"])
    t.note("the logship user " + ("stays (Debian policy 9.2.1 allows it)" if rc == 0 else "is gone"))


def skip_reason():
    if os.geteuid() != 0:
        return "the package test installs and purges Debian packages: it needs root"
    present = [p for p in PACKAGES if installed(p)] + [d for d in SYSTEM_DIRS if os.path.lexists(d)]
    if present:
        return f"{', '.join(present)} already on this machine: the test would purge them"
    return None


def body(t):
    build = os.environ.get("LOGSHIP_BUILD_DIR", "")
    version = project_version(build)
    t.require(version is not None, f"LOGSHIP_BUILD_DIR is a configured build tree ({build!r})")
    debs = build_packages(t, build, version)
    listed = []
    try:
        rc, out = sh(APT + ["install", "--no-install-recommends"] + list(debs.values()), env=APT_ENV)
        t.require(rc == 0, "apt-get install ./logship_*.deb ./liblogship-client*.deb", out[-3000:])
        for p in PACKAGES:
            listed += sh(["dpkg", "-L", p])[1].splitlines()
        check_installed(t, version)
        tutorial(t)
        dev_package(t)
    finally:
        if listed:
            purge(t, listed)
        else:
            sh(APT + ["purge"] + list(PACKAGES), env=APT_ENV)


if __name__ == "__main__":
    reason = skip_reason()
    if reason:
        print(f"SKIP: {reason}", flush=True)
        sys.exit(77)  # ctest: SKIP_RETURN_CODE
    run_test("package", body, time_limit=1500)
