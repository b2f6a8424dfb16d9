#!/usr/bin/env python3
"""Realistic benchmark input: seeded log lines with the entropy of real ones (issue 21).

The old benchmark input was one fixed text padded with 'x' to 100 bytes: nearly identical lines that
say nothing about real logs and would make any compression figure meaningless. This generator mixes
what a log pipeline really carries, each kind with the fields that make real logs hard to compress:

  web access   47%  combined log format: client IPv4/IPv6, method, a path from a realistic set with
                    ids and query strings, status (mostly 2xx, some 3xx/4xx/5xx), bytes, referrer,
                    user agent from a set of real ones, upstream latency
  application  40%  ISO 8601 timestamp, level, service, request id (UUID), trace id (32 hex), user
                    id, duration, a message from a set of templates with key=value fields
  key=values   12%  JSON objects as structured loggers write them (event, ids, numbers, a nested map)
  stack traces  1%  an ERROR line followed by 4-12 frames ("    at pkg.Class.method(File.java:N)")
                    and sometimes a "Caused by:" line; every frame is its own line, as a file has it
                    (so about 8% of all lines are frames)

The percentages count events; of the lines, about 44% are access, 37% application, 11% JSON.

Line lengths spread around 100-300 bytes (stack frames are shorter, access lines longer). The same
seed always gives the same lines (random.Random, no other source of randomness, timestamps from a
fixed start), so every run and every machine measures the same input.

  python3 bench/loggen.py --count 100000 --seed 1 > input.log
  python3 bench/loggen.py --count 200000 --stats      # lengths and zstd ratios at levels 1 and 3
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import statistics
import subprocess
import sys
from typing import Iterator

START = dt.datetime(2026, 11, 23, 0, 0, 0, tzinfo=dt.timezone.utc)
BATCH_BYTES = 256 * 1024  # the batch size the --stats ratios are measured on

SERVICES = ["api-gateway", "orders", "payments", "inventory", "auth", "search", "notifications",
            "shipping", "billing-worker", "recommendations"]
METHODS = ["GET"] * 14 + ["POST"] * 4 + ["PUT", "DELETE", "PATCH", "HEAD"]
PATHS = ["/", "/index.html", "/favicon.ico", "/static/js/app.{h}.js", "/static/css/main.{h}.css",
         "/api/v1/orders/{n}", "/api/v1/orders?page={p}&per_page=50", "/api/v1/users/{n}/profile",
         "/api/v1/products/{n}", "/api/v1/products?category={c}&sort=price_asc", "/api/v1/cart/{u}",
         "/api/v2/search?q={q}&lang=en", "/login", "/logout", "/healthz", "/metrics",
         "/api/v1/payments/{u}/capture", "/images/products/{n}/large.webp", "/checkout/confirm?order={n}"]
CATEGORIES = ["books", "electronics", "garden", "toys", "kitchen", "sports", "music", "office"]
WORDS = ["red", "shoes", "usb-c", "cable", "coffee", "grinder", "lamp", "desk", "chair", "kindle",
         "headphones", "wireless", "charger", "tent", "yoga", "mat", "printer", "ink", "monitor", "4k"]
STATUSES = [200] * 70 + [201] * 5 + [204] * 4 + [301, 302, 304] * 3 + [400, 401, 403] + [404] * 4 + [500, 502, 503]
REFERRERS = ["-", "-", "https://shop.example/", "https://shop.example/cart", "https://www.google.com/",
             "https://shop.example/search?q=lamp", "https://m.example.com/"]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.6045.163 Mobile Safari/537.36",
    "curl/7.88.1", "python-requests/2.31.0", "Go-http-client/1.1", "kube-probe/1.28",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
]
LEVELS = ["INFO"] * 70 + ["DEBUG"] * 15 + ["WARN"] * 10 + ["ERROR"] * 5
APP_MESSAGES = [
    'msg="order created" order_id={n} items={i} amount={money} currency=EUR',
    'msg="payment authorized" payment_id={u} provider=stripe amount={money} attempt={i}',
    'msg="cache miss" key=product:{n} backend=redis ttl_s={i}00',
    'msg="request completed" method={m} path={path} status={s} bytes={b}',
    'msg="user logged in" method=password mfa={bool} ip={ip}',
    'msg="slow query" table=orders rows={b} plan=index_scan query_id={h}',
    'msg="retrying upstream call" upstream=inventory attempt={i} backoff_ms={d}',
    'msg="job finished" job=reindex shard={i} docs={b} errors=0',
    'msg="rate limit exceeded" client_id={u} limit=100 window_s=60',
    'msg="connection pool stats" active={i} idle={i} waiting=0 max=64',
]
EXCEPTIONS = ["java.lang.NullPointerException", "java.sql.SQLTransientConnectionException: HikariPool-1 - "
              "Connection is not available, request timed out after 30000ms",
              "java.util.concurrent.TimeoutException: upstream inventory did not answer within 2000 ms",
              "com.example.payments.CardDeclinedException: insufficient_funds",
              "java.lang.IllegalStateException: order {n} is already shipped"]
FRAMES = ["com.example.{svc}.{cls}.{meth}({cls}.java:{line})", "org.springframework.web.servlet.FrameworkServlet."
          "processRequest(FrameworkServlet.java:{line})", "jdk.internal.reflect.GeneratedMethodAccessor{i}.invoke(Unknown Source)",
          "org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:{line})",
          "com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:{line})",
          "java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:{line})"]
CLASSES = ["OrderService", "PaymentController", "InventoryClient", "CartRepository", "SearchIndexer"]
METHOD_NAMES = ["create", "capture", "reserve", "findByUser", "reindex", "handle", "apply"]


class Gen:
    def __init__(self, seed: int):
        self.r = random.Random(seed)
        self.t = START
        self.users = [self.hexs(12) for _ in range(5000)]

    def hexs(self, n: int) -> str:
        return f"{self.r.getrandbits(4 * n):0{n}x}"

    def uuid(self) -> str:
        h = self.hexs(32)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def ip(self) -> str:
        if self.r.random() < 0.1:
            return f"2001:db8:{self.r.randrange(65536):x}::{self.r.randrange(65536):x}"
        return f"{self.r.choice([10, 172, 192, 198, 203])}.{self.r.randrange(256)}.{self.r.randrange(256)}.{self.r.randrange(1, 255)}"

    def tick(self) -> None:
        self.t += dt.timedelta(microseconds=self.r.randrange(1, 4000))

    def fill(self, template: str) -> str:
        r = self.r
        return template.format(
            n=r.randrange(10_000, 99_999_999), p=r.randrange(1, 40), c=r.choice(CATEGORIES),
            q="+".join(r.sample(WORDS, r.randrange(1, 4))), u=r.choice(self.users), h=self.hexs(8),
            i=r.randrange(1, 20), money=f"{r.randrange(100, 90000) / 100:.2f}", m=r.choice(METHODS),
            path=self.fill(r.choice(PATHS)) if "{path}" in template else "", s=r.choice(STATUSES),
            b=r.randrange(0, 250_000), bool=r.choice(["true", "false"]), ip=self.ip(),
            d=r.choice([50, 100, 200, 400, 800]), svc=r.choice(SERVICES).replace("-", ""),
            cls=r.choice(CLASSES), meth=r.choice(METHOD_NAMES), line=r.randrange(20, 900))

    def access(self) -> str:
        r = self.r
        stamp = self.t.strftime("%d/%b/%Y:%H:%M:%S +0000")
        path = self.fill(r.choice(PATHS))
        status = r.choice(STATUSES)
        size = 0 if status in (204, 304) else r.randrange(120, 180_000)
        return (f'{self.ip()} - - [{stamp}] "{r.choice(METHODS)} {path} HTTP/1.1" {status} {size} '
                f'"{r.choice(REFERRERS)}" "{r.choice(AGENTS)}" rt={r.expovariate(40):.3f}')

    def stamp(self) -> str:
        return self.t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def app(self, level: str | None = None) -> str:
        r = self.r
        level = level or r.choice(LEVELS)
        return (f"{self.stamp()} {level:<5} {r.choice(SERVICES)} request_id={self.uuid()} trace_id={self.hexs(32)} "
                f"user_id={r.choice(self.users)} duration_ms={r.expovariate(0.02):.1f} " + self.fill(r.choice(APP_MESSAGES)))

    def json_line(self) -> str:
        r = self.r
        return ('{"ts":"%s","level":"%s","service":"%s","event":"%s","request_id":"%s","user_id":"%s",'
                '"latency_ms":%d,"http":{"status":%d,"bytes":%d},"tags":["%s","%s"]}' % (
                    self.stamp(), r.choice(LEVELS).lower(), r.choice(SERVICES),
                    r.choice(["checkout", "add_to_cart", "view_item", "search", "signup", "refund"]), self.uuid(),
                    r.choice(self.users), r.randrange(1, 3000), r.choice(STATUSES), r.randrange(0, 90000),
                    r.choice(CATEGORIES), r.choice(WORDS)))

    def trace(self) -> list[str]:
        r = self.r
        lines = [self.app("ERROR").split(" msg=")[0] + ' msg="unhandled exception" ' + self.fill(r.choice(EXCEPTIONS))]
        lines += ["    at " + self.fill(r.choice(FRAMES)) for _ in range(r.randrange(4, 13))]
        if r.random() < 0.3:
            lines.append("Caused by: " + self.fill(r.choice(EXCEPTIONS)))
            lines += ["    at " + self.fill(r.choice(FRAMES)) for _ in range(r.randrange(2, 6))]
        return lines

    def lines(self) -> Iterator[str]:
        while True:
            self.tick()
            x = self.r.random()
            if x < 0.47:
                yield self.access()
            elif x < 0.87:
                yield self.app()
            elif x < 0.99:
                yield self.json_line()
            else:
                yield from self.trace()


def generate(count: int, seed: int = 1) -> Iterator[str]:
    """`count` lines (without line feeds), the same for the same seed."""
    it = Gen(seed).lines()
    for _ in range(count):
        yield next(it)


def write_file(path, count: int, seed: int = 1) -> None:
    with open(path, "w") as f:
        for line in generate(count, seed):
            f.write(line + "\n")


def batches(data: bytes, size: int = BATCH_BYTES) -> Iterator[bytes]:
    """Whole lines, at most `size` bytes a batch (as the producer's batches hold whole records)."""
    start = 0
    while start < len(data):
        end = data.rfind(b"\n", start, start + size) + 1 if start + size < len(data) else len(data)
        if end <= start:
            end = data.find(b"\n", start) + 1 or len(data)
        yield data[start:end]
        start = end


def zstd_ratio(data: bytes, level: int) -> float:
    """Input bytes / compressed bytes over independent batches of BATCH_BYTES (the zstd command)."""
    if shutil.which("zstd") is None:
        raise SystemExit("loggen: the zstd command is missing (apt-get install zstd)")
    packed = 0
    for b in batches(data):
        out = subprocess.run(["zstd", f"-{level}", "-c", "-q"], input=b, capture_output=True, check=True).stdout
        packed += len(out)
    return len(data) / packed


def stats(count: int, seed: int) -> dict:
    lines = list(generate(count, seed))
    lengths = sorted(len(line.encode()) + 1 for line in lines)
    data = "".join(line + "\n" for line in lines).encode()
    q = statistics.quantiles(lengths, n=20)
    return {"lines": len(lines), "bytes": len(data), "mean_line_bytes": round(len(data) / len(lines), 1),
            "p5": q[0], "p50": q[9], "p95": q[18], "zstd1_ratio": round(zstd_ratio(data, 1), 2),
            "zstd3_ratio": round(zstd_ratio(data, 3), 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=100_000, help="lines to write (default 100000)")
    p.add_argument("--seed", type=int, default=1, help="the same seed gives the same lines (default 1)")
    p.add_argument("--stats", action="store_true", help="print line lengths and zstd ratios instead of lines")
    a = p.parse_args()
    if a.count <= 0:
        p.error(f"--count must be positive, got {a.count}")
    if a.stats:
        for k, v in stats(a.count, a.seed).items():
            print(f"{k}: {v}")
        return
    out = sys.stdout
    for line in generate(a.count, a.seed):
        out.write(line + "\n")


if __name__ == "__main__":
    main()
