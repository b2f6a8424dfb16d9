#!/usr/bin/python3
"""logctl serve's JSON API (docs/CONSOLE.md) over a real broker and the files a real aggregator wrote.

An aggregator (text format, --metrics-listen) writes 14 records sent with log_producer (web info x6,
web warn x3, db error x4 with a field, and one record whose message, service and field hold markup
and an escape sequence); a zstd copy of its output is searched too. `logctl serve --listen
127.0.0.1:0` then answers:
(a) /api/search: total, histogram sum and facets equal what `logctl search` finds on the same files,
    for every filter; paging by cursor gives every record once, newest first; match ranges.
(b) /api/context: the lines around a hit; /api/export: as many ndjson lines / csv rows as the total.
(c) /api/live: a record sent by log_producer arrives as an SSE event; a filtered-out one does not;
    16 views at once, a 17th is 503, and closed views free their places.
(c2) paging while new records are written: the cursor's pages go on where the first page ended
    (none of its records again, none of the new ones); a new first page shows them.
(d) /api/queues and /api/dead: the queue and its dead letters as the broker has them; requeue and
    delete need the CSRF header and a same-site Origin (403 otherwise), then act.
(e) /api/pipeline: the aggregator up, healthy, role aggregator; a closed port down.
(f) without a token, a Host that is not loopback is 403 (DNS rebinding); 404 for unknown APIs and for any file that is not one of --files (../, absolute, URL-encoded,
    a symlink to /etc/passwd); the security headers on every answer; JSON keeps markup as text.
(g) --token-file: 401 without the token (JSON for /api/, the page for pages), Bearer and the login
    cookie work; a non-loopback --listen without --token-file exits 2 with one line.
"""
# transports: amqp redis
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import count_lines, metrics_address, run_test, wait_for  # noqa: E402

XSS = "<img src=x onerror=alert(1)> \x1b[31m red"
BATCHES = [("web", "info", [f"web info request {i} ok" for i in range(6)], []),
           ("web", "warn", [f"web warn slow response {i}" for i in range(3)], []),
           ("db", "error", [f"db error connection refused {i}" for i in range(4)], ["--field", "code=E42"])]
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'")


class Console:
    def __init__(self, address, token=None):
        self.address = address
        self.host, port = address.rsplit(":", 1)
        self.port = int(port)
        self.token = token

    def request(self, method, path, body=None, headers=None):
        """(status, headers dict, body bytes)."""
        h = dict(headers or {})
        if self.token and "Authorization" not in h and "Cookie" not in h:
            h["Authorization"] = f"Bearer {self.token}"
        c = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()

    def get(self, path, **params):
        q = urllib.parse.urlencode([(k, v) for k, vs in params.items()
                                    for v in (vs if isinstance(vs, list) else [vs])])
        status, headers, body = self.request("GET", path + ("?" + q if q else ""))
        return status, headers, body

    def json(self, path, **params):
        status, _, body = self.get(path, **params)
        return status, json.loads(body) if body else None

    def post(self, path, obj, headers=None):
        status, _, body = self.request("POST", path, json.dumps(obj).encode(),
                                       dict({"Content-Type": "application/json"}, **(headers or {})))
        return status, json.loads(body) if body else None


def start_console(t, label, args):
    p = t.spawn(label, "logctl", ["serve", "--listen", "127.0.0.1:0"] + args)
    found = []

    def logged():
        m = re.search(rb"serving the console on http://(\S+)/", p.stderr())
        if m:
            found.append(m.group(1).decode())
        return bool(found) or not p.alive()

    wait_for(logged, 60)
    t.require(found, f"{label} logs the address it serves on", p.result().describe())
    return p, found[0]


def search_cli(t, files, args):
    r = t.run("logctl", ["search", "--json"] + files + args)
    t.check(r.rc in (0, 1), f"logctl search {' '.join(args)} runs", r.describe())
    return [json.loads(l) for l in r.out.split(b"\n") if l]


def check_search(t, con, files, cli_args, params):
    expected = search_cli(t, files, cli_args)
    status, res = con.json("/api/search", limit=1000, **params)
    what = f"search {params or '(everything)'}"
    t.require(status == 200, f"{what}: 200", res)
    t.check(res["total"] == len(expected) and len(res["records"]) == len(expected),
            f"{what}: total {len(expected)} as logctl search", (res["total"], len(res["records"])))
    t.check(sum(res["histogram"]["counts"]) == len(expected), f"{what}: the histogram counts every match",
            res["histogram"])
    levels, services = {}, {}
    for rec in expected:
        levels[rec["level"]] = levels.get(rec["level"], 0) + 1
        services[rec["service"]] = services.get(rec["service"], 0) + 1
    t.check(res["facets"]["level"] == levels and res["facets"]["service"] == services,
            f"{what}: level and service facets as logctl search", (res["facets"], levels, services))
    times = [r["time_ms"] for r in res["records"]]
    t.check(times == sorted(times, reverse=True), f"{what}: newest first", times)
    return res


def live_reader(con, params, events, stop):
    q = urllib.parse.urlencode(params)
    c = http.client.HTTPConnection(con.host, con.port, timeout=120)
    c.request("GET", "/api/live?" + q)
    r = c.getresponse()
    events.append(("status", r.status))
    name = None
    while not stop.is_set():
        line = r.fp.readline()
        if not line:
            break
        line = line.decode().rstrip("\n")
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            events.append((name, json.loads(line[6:])))
    c.close()


def body(t):
    q = t.queue("console")
    dq = q + ".dead"
    out = t.path("out.log")
    agg = t.start_aggregator("aggregator", q, out, fmt="text", extra=["--metrics-listen", "127.0.0.1:0"])
    agg_metrics = metrics_address(t, agg)

    t.section("14 records through the real pipeline; a zstd copy of the output")
    for service, level, lines, extra in BATCHES:
        t.produce(q, "".join(l + "\n" for l in lines).encode(), ["--service", service, "--level", level] + extra)
    r = t.run("log_producer", ["--queue", q, "--service", "<b>svc</b>", "--level", "error", "--field",
                               "note=<script>x</script>", XSS])
    t.check(r.rc == 0, "the markup record is sent", r.describe())
    t.require(wait_for(lambda: count_lines(out) == 14, 60), "14 records are written", count_lines(out))
    copy = t.path("out-old.log.zst")
    cp = subprocess.run(["zstd", "-q", "-f", out, "-o", copy], capture_output=True, timeout=60)
    t.require(cp.returncode == 0, "zstd compresses a copy", cp.stderr)
    os.symlink("/etc/passwd", t.path("passwd-link"))
    with open(t.path("out.log.offset"), "w") as f:  # an aggregator's side file that the glob matches too
        f.write("12345\n")
    files = [out, copy]

    serve, address = start_console(t, "serve", ["--files", t.path("out*"), "--queue", q,
                                                 "--metrics-target", f"http://{agg_metrics}",
                                                 "--metrics-target", "http://127.0.0.1:1"])
    con = Console(address)

    t.section("(a) search: the same records as logctl search, histogram and facets from the same pass")
    everything = check_search(t, con, files, [], {})
    t.check(everything["total"] == 28, "28 records in the output and its zstd copy", everything["total"])
    check_search(t, con, files, ["--level", "warn"], {"level": "warn"})
    check_search(t, con, files, ["--service", "db"], {"service": "db"})
    check_search(t, con, files, ["--service", "web", "--service", "db"], {"service": ["web", "db"]})
    check_search(t, con, files, ["--grep", "refused [02]"], {"q": "refused [02]"})
    check_search(t, con, files, ["--host", "nohost"], {"host": "nohost"})
    res = check_search(t, con, files, ["--grep", "slow"], {"q": "slow", "level": "warn"})
    t.check(all(r["match"] and r["message"][r["match"][0][0]:r["match"][0][1]] == "slow" for r in res["records"]),
            "match ranges point at the matched text", res["records"][:1])
    db = con.json("/api/search", service="db")[1]
    t.check(db["facets"]["fields"].get("code") == {"E42": 8}, "field facets count values", db["facets"]["fields"])
    seen, cursor, pages = [], None, 0
    while pages < 10:
        params = {"limit": 5}
        if cursor:
            params["cursor"] = cursor
        status, page = con.json("/api/search", **params)
        seen += [(r["file"], r["offset"]) for r in page["records"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    t.check(len(seen) == 28 and len(set(seen)) == 28 and pages == 6, "paging by 5 gives the 28 records once",
            (len(seen), len(set(seen)), pages))
    status, _, raw = con.get("/api/search", service="<b>svc</b>")
    xss = json.loads(raw)["records"]
    t.check(len(xss) == 2 and xss[0]["message"] == XSS and xss[0]["fields"]["note"] == "<script>x</script>",
            "markup in message, service and fields comes back as the same text", xss[:1])
    t.check(b"\x1b" not in raw, "no raw escape byte in the JSON", raw[:200])
    status, res = con.json("/api/search", level="loud")
    t.check(status == 400 and "level" in res["error"], "a bad level is 400 naming it", res)
    status, res = con.json("/api/search", q="(")
    t.check(status == 400 and res["error"].startswith("q:"), "a bad q is 400", res)

    t.section("(b) context and export")
    hit = con.json("/api/search", q="refused 2", limit=1)[1]["records"][0]
    status, ctx = con.json("/api/context", file=hit["file"], offset=hit["offset"], before=2, after=2)
    msgs = [r["message"] for r in ctx["records"]] if status == 200 else []
    t.check(status == 200 and len(msgs) == 5 and msgs[2] == hit["message"]
            and msgs[1].endswith("refused 1") and msgs[3].endswith("refused 3"),
            "context: 2 before, the hit, 2 after", ctx)
    status, ctx = con.json("/api/context", file=hit["file"], offset=hit["offset"] + 1)
    t.check(status == 404, "an offset inside a line is 404", ctx)
    for fmt, extra in (("ndjson", 0), ("csv", 1)):
        status, headers, data = con.get("/api/export", format=fmt, level="warn")
        n = len([l for l in data.split(b"\n") if l.strip()])
        want = check_search(t, con, files, ["--level", "warn"], {"level": "warn"})["total"]
        t.check(status == 200 and n == want + extra and "attachment" in headers.get("content-disposition", ""),
                f"export {fmt}: {want} records as a download", (status, n, headers))

    t.section("(f) nothing outside --files, 404s, security headers")
    for bad in ["/etc/passwd", t.path("passwd-link"), t.path("../") + os.path.basename(t.tmp) + "/out.log",
                out + "/../out.log", "../" * 12 + "etc/passwd", t.path("out.log.offset"), ""]:
        status, res = con.json("/api/context", file=bad, offset=0)
        t.check(status == 404 and "root:" not in json.dumps(res), f"context of {bad!r} is 404", res)
    enc = urllib.parse.quote(out, safe="").replace("out.log", "%2e%2e%2fout.log")
    status, _, data = con.request("GET", f"/api/context?file={enc}&offset=0")
    t.check(status == 404, "a URL-encoded ../ is 404", data)
    for path in ["/api/nothing", "/etc/passwd", "/assets/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                 "/assets/%2e%2e%2f%2e%2e%2fetc%2fpasswd"]:
        status, _, data = con.request("GET", path)
        t.check(status == 404 and b"root:" not in data, f"GET {path} is 404", (status, data[:100]))
    status, _, data = con.request("GET", "/api/search", headers={"Host": f"rebound.example:{con.port}"})
    t.check(status == 403 and b"web info" not in data, "without a token, a Host that is not loopback is 403 "
            "(DNS rebinding)", data[:200])
    status, headers, _ = con.get("/api/info")
    t.check(headers.get("content-security-policy") == CSP and headers.get("x-content-type-options") == "nosniff"
            and headers.get("referrer-policy") == "no-referrer", "security headers", headers)
    status, info = con.json("/api/info")
    t.check(status == 200 and info["queue"] == q and info["auth"] is False and info["files"] == [t.path("out*")]
            and "password" not in json.dumps(info).lower().replace("(no password)", ""), "/api/info", info)
    status, headers, page = con.get("/live", level="warn")
    t.check(status == 200 and headers.get("content-type", "").startswith("text/html")
            and headers.get("content-security-policy") == CSP, "/live is the page", (status, headers))

    t.section("(c) live: a record sent by log_producer arrives as an SSE event, filters apply")
    events, stop = [], threading.Event()
    reader = threading.Thread(target=live_reader, args=(con, {"service": "livesvc", "level": "warn"}, events, stop),
                              daemon=True)
    reader.start()
    t.require(wait_for(lambda: any(e[0] == "subscribed" for e in events), 60), "the live view subscribes", events)
    for service, level, text in (("other", "error", "not for this view"), ("livesvc", "info", "too low"),
                                 ("livesvc", "error", "live hello <b>")):
        r = t.run("log_producer", ["--queue", q, "--service", service, "--level", level, text])
        t.check(r.rc == 0, f"log_producer sends '{text}'", r.describe())
    t.check(wait_for(lambda: any(e[0] == "record" for e in events), 30), "the record arrives live", events)
    records = [e[1] for e in events if e[0] == "record"]
    t.check(len(records) == 1 and records[0]["message"] == "live hello <b>" and records[0]["service"] == "livesvc"
            and "file" not in records[0], "only the matching record, as REC without file", records)
    stop.set()
    reader.join(30)
    t.check(not reader.is_alive(), "the live view ends when its reader stops")

    def open_live():
        c = http.client.HTTPConnection(con.host, con.port, timeout=60)
        c.request("GET", "/api/live")
        return c, c.getresponse()

    views = []

    def one_more():  # a view closed just before holds its place until the server writes to it again
        c, r = open_live()
        if r.status == 200:
            views.append((c, r))
        else:
            c.close()
        return r.status == 200

    t.check(all(wait_for(one_more, 60, interval=0.5) for _ in range(16)), "16 live views at once", len(views))
    c, r = open_live()
    body17 = r.read()
    c.close()
    t.check(r.status == 503 and b"live views" in body17, "a 17th is refused with 503", (r.status, body17))
    for c, _ in views:
        c.close()

    def freed():
        c, r = open_live()
        ok = r.status == 200
        c.close()
        return ok

    t.check(wait_for(freed, 60, interval=1), "closed live views free their places")

    t.section("(c2) paging while records arrive: the next pages go on where the first one ended")
    t.require(wait_for(lambda: count_lines(out) == 17, 60), "the 3 live records are written", count_lines(out))
    status, first = con.json("/api/search", limit=5)
    t.require(status == 200 and first["total"] == 31 and first["next_cursor"], "31 records, a first page of 5",
              (status, first.get("total"), first.get("next_cursor")))
    before = [(r["file"], r["offset"]) for r in first["records"]]
    r = t.run("log_producer", ["--queue", q, "--service", "late"], input=b"late 1\nlate 2\nlate 3\n")
    t.check(r.rc == 0, "3 more records are sent while paging", r.describe())
    t.require(wait_for(lambda: count_lines(out) == 20, 60), "and written", count_lines(out))
    later, cursor = [], first["next_cursor"]
    while cursor and len(later) < 100:
        status, page = con.json("/api/search", limit=5, cursor=cursor)
        later += [(r["file"], r["offset"], r["service"]) for r in page["records"]]
        cursor = page["next_cursor"]
    t.check(len(later) == 26 and not {(f, o) for f, o, _ in later} & set(before)
            and len(set(later)) == 26 and all(s != "late" for _, _, s in later),
            "the following pages hold the other 26 once, none of page 1 again, none of the new ones",
            (len(later), sorted(set(before) & {(f, o) for f, o, _ in later})))
    status, again = con.json("/api/search", limit=5)
    t.check(again["total"] == 34 and again["records"][0]["service"] == "late",
            "a new first page shows the new records", (again.get("total"), again["records"][:1]))

    t.section("(d) queues and dead letters")
    t.publish(q, [(b"bad envelope", {"logship-version": "9", "logship-id": "bad-1"})])
    t.require(wait_for(lambda: t.queue_ready(dq) == 1, 60), "the aggregator dead-letters the malformed message",
              t.queue_ready(dq))
    # Over RabbitMQ the management API's numbers are as of its last sample (every 5 s): wait for them.
    qs = {}

    def queues_show_it():
        status, res = con.json("/api/queues")
        qs.update(res if status == 200 else {"status": status, "body": res})
        return status == 200 and res["dead"]["ready"] == 1 and res["queues"][0]["consumers"] >= 1

    t.check(wait_for(queues_show_it, 60, interval=0.5) and qs["queues"][0]["name"] == q and qs["time_ms"] > 0,
            "queues: the queue, its consumer and 1 dead letter", qs)
    status, dead = con.json("/api/dead", limit=10)
    t.check(status == 200 and len(dead["messages"]) == 1 and dead["messages"][0]["index"] == 1
            and "version" in dead["messages"][0]["reason"] and dead["messages"][0]["record"]["message"]
            == "bad envelope", "dead: the dead letter, peeked", dead)
    t.check(t.queue_ready(dq) == 1, "peeking took nothing", t.queue_ready(dq))
    status, res = con.post("/api/dead/requeue", {"count": 1})
    t.check(status == 403 and "X-Logship-CSRF" in res["error"], "requeue without the CSRF header: 403", res)
    csrf = con.json("/api/csrf")[1]["csrf"]
    status, res = con.post("/api/dead/requeue", {"count": 1}, {"X-Logship-CSRF": csrf, "Origin": "http://evil.example"})
    t.check(status == 403 and "another site" in res["error"], "requeue from another Origin: 403", res)
    status, res = con.post("/api/dead/requeue", {"count": 1}, {"X-Logship-CSRF": "0" * 32})
    t.check(status == 403, "requeue with a wrong CSRF value: 403", res)
    t.check(t.queue_ready(dq) == 1, "nothing moved by refused requests", t.queue_ready(dq))
    status, res = con.post("/api/dead/requeue", {"count": 1},
                           {"X-Logship-CSRF": csrf, "Origin": f"http://{address}"})
    t.check(status == 200 and res == {"done": 1}, "requeue with the CSRF header: done 1", res)
    # The aggregator dead-letters it again (still malformed): then delete it.
    t.require(wait_for(lambda: t.queue_ready(dq) == 1 and con.json("/api/queues")[1]["dead"]["ready"] == 1, 60),
              "the requeued message is dead-lettered again", t.queue_ready(dq))
    status, res = con.post("/api/dead/delete", {"count": 1}, {"X-Logship-CSRF": csrf})
    t.check(status == 200 and res == {"done": 1}, "delete: done 1", res)
    t.check(wait_for(lambda: t.queue_ready(dq) == 0, 30), "the dead-letter queue is empty", t.queue_ready(dq))

    t.section("(e) pipeline")
    status, pipe = con.json("/api/pipeline")
    targets = {p["url"]: p for p in pipe["targets"]} if status == 200 else {}
    a = targets.get(f"http://{agg_metrics}", {})
    t.check(a.get("up") is True and a.get("role") == "aggregator" and a.get("healthy") is True
            and a.get("health_reason") == "ok", "the aggregator: up, healthy", a)
    down = targets.get("http://127.0.0.1:1", {})
    t.check(down.get("up") is False and down.get("healthy") is False and down.get("last_error"),
            "a closed port: down, with the error", down)
    status, pipe = con.json("/api/pipeline")
    a = {p["url"]: p for p in pipe["targets"]}.get(f"http://{agg_metrics}", {})
    t.check(a.get("records_out_per_s") is not None and a["records_out_per_s"] >= 0,
            "the second scrape gives rates", a)

    serve.send_signal(signal.SIGTERM)
    t.finish_proc(serve, 30, "logctl serve stops on SIGTERM with status 0")

    t.section("(g) the token")
    token_file = t.path("token")
    with open(token_file, "w") as f:
        f.write("s3cret-token\n")
    serve2, address2 = start_console(t, "serve-token", ["--files", t.path("out*"), "--queue", q,
                                                        "--token-file", token_file])
    anon = Console(address2)
    status, res = anon.json("/api/info")
    t.check(status == 401 and res == {"error": "a token is needed (--token-file)"}, "/api/info without token: 401", res)
    status, _, data = anon.get("/api/search")
    t.check(status == 401 and b"web info" not in data, "/api/search without token: 401, no data", data[:100])
    status, headers, data = anon.get("/search")
    t.check(status == 401 and headers.get("content-type", "").startswith("text/html"),
            "a page without token: 401 with the page (which asks for the token)", (status, headers))
    status, res = Console(address2, "wrong").json("/api/info")
    t.check(status == 401, "a wrong Bearer token: 401", res)
    status, res = Console(address2, "s3cret-token").json("/api/info")
    t.check(status == 200 and res["auth"] is True, "the right Bearer token: 200", res)
    status, res = anon.post("/api/login", {"token": "nope"})
    t.check(status == 401, "login with a wrong token: 401", res)
    status, headers, data = anon.request("POST", "/api/login", json.dumps({"token": "s3cret-token"}).encode(),
                                         {"Content-Type": "application/json"})
    cookie = headers.get("set-cookie", "")
    t.check(status == 200 and "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie,
            "login sets an HttpOnly, SameSite=Strict cookie", (status, headers))
    status, _, data = anon.request("GET", "/api/info", headers={"Cookie": cookie.split(";")[0]})
    t.check(status == 200, "the cookie lets requests through", data)
    serve2.send_signal(signal.SIGTERM)
    t.finish_proc(serve2, 30, "logctl serve (token) stops on SIGTERM")
    t.check(b"s3cret-token" not in serve2.stderr() + serve2.stdout(), "the token is never logged")

    r = t.run("logctl", ["serve", "--listen", "0.0.0.0:0", "--files", t.path("out*")])
    t.check(r.rc == 2 and len(r.err_lines) == 1 and "--token-file" in r.err_text,
            "a non-loopback --listen without --token-file: exit 2, one line", r.describe())

    agg.send_signal(signal.SIGTERM)
    t.finish_proc(agg, 30)


run_test("console_api", body)
