"""Results of `make bench`: the data model, the goals, and the three renderings (the stdout table,
bench/RESULTS.md, the gnuplot chart). Pure functions only -- no processes, no brokers -- so that
tests/bench_report_test.py can check them without running anything.

A Row is one thing measured: a process pair (or a single publisher) moving `records` records of
`payload_bytes` each through one broker in `seconds`. A new kind of measurement (for instance
`logctl search` scanning a file) is one more Row with its own `measured` text: the table, the
ratios and the chart need no change.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Optional

MB = 1_000_000  # MB/s and the RSS columns use decimal megabytes

# Row groups, also the chart's colours.
CEILING, PEER, OURS = "ceiling", "peer", "ours"


@dataclass
class ProcStats:
    """What wait4() said about one process when it ended."""
    name: str
    cpu_s: float  # user + system
    rss_kb: int   # ru_maxrss: peak resident set size, KiB
    exit_code: Optional[int] = None

    @property
    def rss_mb(self) -> float:
        return self.rss_kb * 1024 / MB


@dataclass
class Latency:
    """End-to-end latency of one paced run (see bench/README.md, "Latency")."""
    target_rate: float
    achieved_rate: float
    fed: int             # records written to the producer's stdin
    measured: int        # records after the warm-up, whose latency is counted
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    seconds: float       # feeding time
    warmup_s: float
    procs: list[ProcStats] = field(default_factory=list)


@dataclass
class Soak:
    """log_producer's resident set over a long run at a steady rate, one input kind (bench/README.md,
    "Soak"): read from /proc/PID/status (VmRSS) at two marks, so growth per message shows as a number."""
    input: str                        # "stdin", "syslog udp", "syslog tcp", "follow"
    target_rate: float                # records/s offered
    fed: int = 0                      # records written to the input
    early_s: float = 0.0              # seconds after the feeding began of the first reading
    late_s: float = 0.0               # ... of the last one
    early_rss_kb: Optional[int] = None
    late_rss_kb: Optional[int] = None
    status: str = "ok"                # "ok" or "failed"
    note: str = ""

    @property
    def growth_kb_per_min(self) -> Optional[float]:
        if self.status != "ok" or self.early_rss_kb is None or self.late_rss_kb is None or self.late_s <= self.early_s:
            return None
        return (self.late_rss_kb - self.early_rss_kb) / (self.late_s - self.early_s) * 60


SOAK_COLUMNS = ["Input", "Rec/s offered", "Records fed", "RSS MB early", "RSS MB late", "Growth KB/min"]


def soak_cells(soaks: list[Soak]) -> list[list[str]]:
    def mb(kb: Optional[int]) -> str:
        return fmt_num(kb * 1024 / MB) if kb is not None else "–"

    cells = []
    for s in soaks:
        if s.status != "ok":
            cells.append([s.input, fmt_int(s.target_rate), fmt_int(s.fed), "failed", "", ""])
            continue
        cells.append([s.input, fmt_int(s.target_rate), fmt_int(s.fed), f"{mb(s.early_rss_kb)} at {s.early_s:.0f} s",
                      f"{mb(s.late_rss_kb)} at {s.late_s:.0f} s", fmt_num(s.growth_kb_per_min)])
    return cells


@dataclass
class Row:
    key: str                 # stable id, used by the goals and in results.json
    label: str               # shown in the tables and on the chart
    broker: str              # "RabbitMQ", "Redis", or a set-up of several nodes ("RabbitMQ 3-node cluster", ...)
    group: str               # CEILING, PEER or OURS
    measured: str            # what the time covers, e.g. "end to end", "publish only"
    guarantees: str          # e.g. "confirms, ack after write"
    records: int = 0
    payload_bytes: int = 0   # bytes of one record's message (MB/s counts these)
    seconds: Optional[float] = None
    sender: Optional[ProcStats] = None
    receiver: Optional[ProcStats] = None
    broker_cpu_s: Optional[float] = None
    latency: Optional[Latency] = None
    latency_na: str = ""     # why there is no latency figure
    status: str = "ok"       # "ok", "n/a" (not available, not an error) or "failed"
    note: str = ""           # shown under the table
    # Message body bytes that went through the broker (our rows: the aggregator's
    # logship_aggregator_bytes_received_total, i.e. the message sizes; compressed when compressed).
    wire_bytes: Optional[int] = None
    # The key of the row this one varies (one setting changed: quorum against classic, --wait-replicas 1
    # against 0): the report gives this row's figures as ratios to that row's ("Against the base row").
    versus: str = ""
    # Measured for its throughput only: no latency run, no latency goal.
    throughput_only: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok" and bool(self.seconds) and self.records > 0

    @property
    def rate(self) -> Optional[float]:
        return self.records / self.seconds if self.ok else None

    @property
    def mb_per_s(self) -> Optional[float]:
        return self.records * self.payload_bytes / self.seconds / MB if self.ok else None

    @property
    def wire_bytes_per_record(self) -> Optional[float]:
        return self.wire_bytes / self.records if self.ok and self.wire_bytes else None

    @property
    def compression(self) -> Optional[float]:
        """Text bytes (each record's message and its line feed) per byte through the broker."""
        per = self.wire_bytes_per_record
        return (self.payload_bytes + 1) / per if per else None

    @property
    def broker_cpu_s_per_m(self) -> Optional[float]:
        return self.broker_cpu_s / self.records * 1e6 if self.ok and self.broker_cpu_s is not None else None

    @property
    def client_cpu_s(self) -> Optional[float]:
        parts = [p.cpu_s for p in (self.sender, self.receiver) if p is not None]
        return sum(parts) if parts and self.ok else None

    @property
    def cpu_us_per_record(self) -> Optional[float]:
        cpu = self.client_cpu_s
        return cpu / self.records * 1e6 if cpu is not None else None


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    if a is None or b is None or b == 0:
        return None
    return a / b


# --- formatting helpers --------------------------------------------------------------------------

def fmt_int(x: Optional[float]) -> str:
    return "–" if x is None else f"{x:,.0f}"


def fmt_num(x: Optional[float], digits: int = 1) -> str:
    if x is None:
        return "–"
    return f"{x:,.{digits}f}"


def fmt_ratio(x: Optional[float]) -> str:
    if x is None:
        return "–"
    return f"{x:.2f}×" if x < 10 else f"{x:.0f}×"


def fmt_ms(x: Optional[float]) -> str:
    if x is None:
        return "n/a"
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"


def proc_cell(p: Optional[ProcStats], attr: str) -> str:
    if p is None:
        return "–"
    return fmt_num(p.cpu_s, 2) if attr == "cpu" else fmt_num(p.rss_mb, 1)


# --- goals ---------------------------------------------------------------------------------------

@dataclass
class Goal:
    text: str
    measured: str
    met: Optional[bool]  # None: could not be measured (counts as not met)

    @property
    def verdict(self) -> str:
        if self.met is True:
            return "met"
        return "NOT MET" if self.met is False else "NOT MET (not measured)"


# Issue 21's goals (the throughput ones on this 2-core machine, realistic lines) and the earlier ones
# they did not replace (uncompressed batches over RabbitMQ, memory, latency).
GOAL_ZSTD_AMQP = 1_500_000       # batched + --compress zstd over a RabbitMQ classic queue
GOAL_WIRE_FRACTION = 1 / 3       # zstd's bytes through the broker per record ÷ uncompressed ones
GOAL_BATCHED_AMQP = 1_000_000    # batched, uncompressed, over RabbitMQ
GOAL_BATCHED_REDIS = 1_000_000   # batched, uncompressed, over Redis
GOAL_PROBE_FRACTION = 0.9        # one record per message ÷ the probe sending our exact message shape
GOAL_RSS_PRODUCER_MB = 30
GOAL_RSS_AGGREGATOR_MB = 60
GOAL_P99_MS = 50
GOAL_LATENCY_RATE = 10_000


def evaluate_goals(rows: list[Row]) -> list[Goal]:
    by = {r.key: r for r in rows}
    goals: list[Goal] = []

    def rate_goal(key: str, fallback_key: str, target: float, broker: str, how: str = "") -> Goal:
        text = f"batched{how}, end to end over {broker}: ≥ {target:,.0f} records/s"
        r = by.get(key)
        if r is not None and r.ok:
            return Goal(text, f"{r.rate:,.0f} records/s", r.rate >= target)
        why = r.note if r is not None and r.note else "no batched row"
        fb = by.get(fallback_key)
        extra = f"; one record per message: {fb.rate:,.0f} records/s" if fb is not None and fb.ok else ""
        return Goal(text, f"not measured ({why}){extra}", None)

    goals.append(rate_goal("ours_amqp_batched_zstd", "ours_amqp_batched", GOAL_ZSTD_AMQP, "RabbitMQ",
                           " with --compress zstd"))

    text = f"--compress zstd: ≤ 1/{round(1 / GOAL_WIRE_FRACTION)} of the uncompressed bytes through the broker"
    measured = []
    for zkey, key in (("ours_amqp_batched_zstd", "ours_amqp_batched"), ("ours_redis_batched_zstd", "ours_redis_batched")):
        z, plain = by.get(zkey), by.get(key)
        if z is not None and plain is not None and z.wire_bytes_per_record and plain.wire_bytes_per_record:
            measured.append((z.wire_bytes_per_record / plain.wire_bytes_per_record, z, plain))
    if measured:
        worst = max(measured, key=lambda m: m[0])
        goals.append(Goal(text, "; ".join(f"{f:.3f} ({z.wire_bytes_per_record:,.1f} ÷ {p.wire_bytes_per_record:,.1f} "
                                          f"bytes per record, {z.broker})" for f, z, p in measured),
                          worst[0] <= GOAL_WIRE_FRACTION))
    else:
        goals.append(Goal(text, "not measured", None))

    goals.append(rate_goal("ours_amqp_batched", "ours_amqp", GOAL_BATCHED_AMQP, "RabbitMQ"))
    goals.append(rate_goal("ours_redis_batched", "ours_redis", GOAL_BATCHED_REDIS, "Redis"))

    # Like for like: the probe sending messages of our exact shape (headers, properties, exchange,
    # mandatory); the bare probe's bodies carry nothing and cost the broker less per message.
    text = f"one record per message ≥ {GOAL_PROBE_FRACTION}× the probe sending our message shape (same run)"
    ours, probe = by.get("ours_amqp"), by.get("probe_our_shape")
    if ours is not None and probe is not None and ours.ok and probe.ok:
        f = ours.rate / probe.rate
        goals.append(Goal(text, f"{f:.2f}× ({ours.rate:,.0f} vs {probe.rate:,.0f} records/s)",
                          f >= GOAL_PROBE_FRACTION))
    else:
        goals.append(Goal(text, "not measured", None))

    # Peak RSS over every run of our programs (throughput and latency runs).
    for role, limit in (("producer", GOAL_RSS_PRODUCER_MB), ("aggregator", GOAL_RSS_AGGREGATOR_MB)):
        worst: Optional[tuple[float, str]] = None
        for r in rows:
            if r.group != OURS or r.status != "ok":
                continue
            procs = [p for p in (r.sender, r.receiver) if p is not None]
            if r.latency is not None:
                procs += [(p) for p in r.latency.procs]
            for p in procs:
                if p.name == role and (worst is None or p.rss_mb > worst[0]):
                    worst = (p.rss_mb, r.label)
        text = f"peak RSS of log_{role} ≤ {limit} MB"
        if worst is None:
            goals.append(Goal(text, "not measured", None))
        else:
            goals.append(Goal(text, f"{worst[0]:.1f} MB (worst: {worst[1]})", worst[0] <= limit))

    for r in rows:
        if r.group != OURS or (r.status == "n/a" and r.latency is None) or r.key.endswith("_fixed") \
                or r.throughput_only:
            continue  # a configuration that does not exist yet has its own goal line above; the old
            # fixed input and the rows on several nodes are throughput comparisons only
        lat = r.latency
        text = f"p99 end-to-end latency ≤ {GOAL_P99_MS} ms at a steady {GOAL_LATENCY_RATE:,} records/s ({r.label})"
        if lat is None:
            goals.append(Goal(text, f"not measured ({r.latency_na or 'no latency run'})", None))
            continue
        if lat.target_rate != GOAL_LATENCY_RATE:
            goals.append(Goal(text, f"not measured at {GOAL_LATENCY_RATE:,} records/s (the run was paced at "
                                    f"{lat.target_rate:,.0f}: p99 {lat.p99_ms:.1f} ms)", None))
            continue
        steady = lat.achieved_rate >= 0.95 * lat.target_rate
        measured = f"p99 {lat.p99_ms:.1f} ms (p50 {lat.p50_ms:.1f} ms) at {lat.achieved_rate:,.0f} records/s"
        if not steady:
            measured += " -- the feeder could not hold the rate"
        goals.append(Goal(text, measured, lat.p99_ms <= GOAL_P99_MS and steady))
    return goals


# --- the tables ----------------------------------------------------------------------------------

COLUMNS = ["#", "Row", "Broker", "Measured", "Records", "Records/s", "MB/s", "× probe",
           "CPU s send", "CPU s recv", "CPU µs/rec", "RSS MB send", "RSS MB recv",
           "Broker CPU s", "Broker CPU s/M rec", "Wire B/rec", "Text ÷ wire", "p50 ms", "p99 ms"]


def table_cells(rows: list[Row]) -> list[list[str]]:
    probe = next((r for r in rows if r.key == "probe"), None)
    probe_rate = probe.rate if probe is not None else None
    out = []
    for i, r in enumerate(rows, 1):
        if r.ok:
            lat = r.latency
            out.append([str(i), r.label, r.broker, r.measured, fmt_int(r.records), fmt_int(r.rate),
                        fmt_num(r.mb_per_s, 2), fmt_ratio(ratio(r.rate, probe_rate)),
                        proc_cell(r.sender, "cpu"), proc_cell(r.receiver, "cpu"),
                        fmt_num(r.cpu_us_per_record, 1),
                        proc_cell(r.sender, "rss"), proc_cell(r.receiver, "rss"),
                        fmt_num(r.broker_cpu_s, 2), fmt_num(r.broker_cpu_s_per_m, 2),
                        fmt_num(r.wire_bytes_per_record, 1),
                        fmt_ratio(r.compression) if r.compression else "–",
                        fmt_ms(lat.p50_ms if lat else None), fmt_ms(lat.p99_ms if lat else None)])
        else:
            what = "not available yet" if r.status == "n/a" else "FAILED"
            out.append([str(i), r.label, r.broker, r.measured, what] + ["–"] * (len(COLUMNS) - 5))
    return out


def text_table(header: list[str], cells: list[list[str]]) -> str:
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(header)]
    numeric = lambda s: s[:1].isdigit() or s[:1] in "–-" or s.endswith("×") or s == "n/a"

    def line(cs: list[str]) -> str:
        return "  ".join(c.rjust(w) if numeric(c) and j > 0 else c.ljust(w)
                         for j, (c, w) in enumerate(zip(cs, widths))).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(c) for c in cells])


def md_table(header: list[str], cells: list[list[str]], text_columns: int = 1) -> str:
    esc = lambda s: s.replace("|", "\\|")
    lines = ["| " + " | ".join(esc(h) for h in header) + " |",
             "|" + "|".join("---" if j < text_columns else "---:" for j in range(len(header))) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in cs) + " |" for cs in cells]
    return "\n".join(lines)


def ratio_cells(rows: list[Row], metric: str) -> tuple[list[str], list[list[str]]]:
    """Each of our rows against every reference row on the same broker. metric: "rate" (ours ÷
    theirs: above 1 is faster) or "cpu" (CPU µs per record, ours ÷ theirs: below 1 is cheaper).
    Rows on a broker without any reference (the cluster, Sentinel) are left out: see versus_cells."""
    refs = [r for r in rows if r.group != OURS and r.ok]
    ours = [r for r in rows if r.group == OURS and r.ok and any(ref.broker == r.broker for ref in refs)]
    header = ["Ours"] + [f"{r.label} ({r.broker})" for r in refs]
    cells = []
    for o in ours:
        row = [o.label]
        for ref in refs:
            if ref.broker != o.broker:
                row.append("")
            elif metric == "rate":
                row.append(fmt_ratio(ratio(o.rate, ref.rate)))
            else:
                row.append(fmt_ratio(ratio(o.cpu_us_per_record, ref.cpu_us_per_record)))
        cells.append(row)
    return header, cells


def ratio_lines(rows: list[Row]) -> list[str]:
    """One line per row of ours: its records/s against each reference on the same broker."""
    out = []
    for o in rows:
        if o.group != OURS or not o.ok:
            continue
        parts = [f"{fmt_ratio(ratio(o.rate, ref.rate))} {ref.label}" for ref in rows
                 if ref.group != OURS and ref.broker == o.broker and ref.ok]
        if parts or not o.versus:
            out.append(f"  {o.label} ({o.broker}): " + (", ".join(parts) or "no reference measured"))
    return out


VERSUS_COLUMNS = ["Row", "Against", "Records/s ×", "Client CPU µs/rec ×", "Broker CPU s/M rec ×"]


def versus_cells(rows: list[Row]) -> list[list[str]]:
    """Each row that names a base row (Row.versus), both measured: its records/s, client CPU per
    record and broker CPU per record divided by the base row's (records/s below 1: slower; the CPU
    figures above 1: dearer). The cost of one setting: quorum against classic, --wait-replicas 1
    against 0, the cluster against one node."""
    by = {r.key: r for r in rows}
    cells = []
    for r in rows:
        base = by.get(r.versus) if r.versus else None
        if base is None or not r.ok or not base.ok:
            continue
        cells.append([f"{r.label} ({r.broker})", f"{base.label} ({base.broker})", fmt_ratio(ratio(r.rate, base.rate)),
                      fmt_ratio(ratio(r.cpu_us_per_record, base.cpu_us_per_record)),
                      fmt_ratio(ratio(r.broker_cpu_s_per_m, base.broker_cpu_s_per_m))])
    return cells


def stdout_report(rows: list[Row], goals: list[Goal], soaks: Optional[list[Soak]] = None) -> str:
    parts = [text_table(COLUMNS, table_cells(rows)), ""]
    if lines := ratio_lines(rows):
        parts += ["Records/s, ours ÷ theirs (same broker, same run):"] + lines + [""]
    if versus := versus_cells(rows):
        parts += ["Against the base row (this row's figure ÷ the base row's, same run):",
                  text_table(VERSUS_COLUMNS, versus), ""]
    parts.append("Goals:")
    for g in goals:
        parts.append(f"  {g.verdict:<22} {g.text}: {g.measured}")
    if soaks:
        parts += ["", "Soak, log_producer's RSS over the run:", text_table(SOAK_COLUMNS, soak_cells(soaks))]
    return "\n".join(parts)


def markdown_report(rows: list[Row], goals: list[Goal], machine: dict, command: str,
                    settings: dict, notes: list[str], chart: Optional[str],
                    soaks: Optional[list[Soak]] = None) -> str:
    out = ["# Benchmark results", "",
           "Written by `bench/run.py` (`make bench`); do not edit by hand, run it again. "
           "How each figure is measured: [bench/README.md](README.md).", ""]
    out += ["## Reproduce", "", "```sh", command, "```", ""]
    out += ["## Machine", ""]
    out += [f"- **{k}**: {v}" for k, v in machine.items()]
    out += ["", "## Settings", ""]
    out += [f"- **{k}**: {v}" for k, v in settings.items()]
    out += ["", "## Results", "", md_table(COLUMNS, table_cells(rows), text_columns=4), ""]
    out += ["Records/s is records ÷ wall seconds; MB/s counts the records' payload (the message "
            "bytes, 10^6 bytes per MB); *send* is the producing process (probe publisher, pika "
            "producer, syslog-ng, redis-benchmark, log_producer), *recv* the consuming one; CPU s is "
            "user + system time and RSS the peak resident set (ru_maxrss), both from GNU time (`/usr/bin/time`, the rusage of the program alone); Broker CPU "
            "s is the broker process' CPU time during the row; × probe divides by the rabbitmq-c probe's "
            "records/s (a RabbitMQ figure: for Redis rows it shows how far apart the two brokers are); p50/p99 come from the paced "
            "latency run (10,000 records/s) of the same configuration.", ""]
    if chart:
        out += [f"![records/s, log scale]({chart})", ""]
    h, c = ratio_cells(rows, "rate")
    out += ["## Ours against the peers", "", "Records/s, ours ÷ theirs (above 1: ours is faster):", "",
            md_table(h, c), ""]
    h, c = ratio_cells(rows, "cpu")
    out += ["Client CPU per record (send + recv), ours ÷ theirs (below 1: ours is cheaper):", "",
            md_table(h, c), ""]
    if versus := versus_cells(rows):
        out += ["## Against the base row", "",
                "Rows that change one thing against another row of the same run (the queue type, the number "
                "of nodes, `--wait-replicas`): their figures ÷ the base row's. Records/s below 1 is slower; "
                "CPU above 1 is dearer.", "", md_table(VERSUS_COLUMNS, versus, text_columns=2), ""]
    out += ["## Goals", "", "| Goal | Measured | Verdict |", "|---|---|---|"]
    out += [f"| {g.text} | {g.measured} | **{g.verdict}** |" for g in goals]
    lat_rows = [r for r in rows if r.latency is not None]
    if lat_rows:
        out += ["", "## Latency runs", "",
                "| Configuration | Target rec/s | Achieved rec/s | Measured records | p50 ms | p90 ms | p99 ms | max ms | RSS MB producer | RSS MB aggregator |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in lat_rows:
            L = r.latency
            rss = {p.name: p.rss_mb for p in L.procs}
            out.append(f"| {r.label} ({r.broker}) | {L.target_rate:,.0f} | {L.achieved_rate:,.0f} | "
                       f"{L.measured:,} | {L.p50_ms:.1f} | {L.p90_ms:.1f} | {L.p99_ms:.1f} | {L.max_ms:.1f} | "
                       f"{fmt_num(rss.get('producer'))} | {fmt_num(rss.get('aggregator'))} |")
    if soaks:
        out += ["", "## Soak", "",
                "log_producer's resident set (VmRSS) while it ships a steady rate over RabbitMQ, per input kind, "
                "all at once, and that of the log_aggregator writing all of it; growth is (late - early) per minute "
                "between the two readings: flat is about 0.", "",
                md_table(SOAK_COLUMNS, soak_cells(soaks))]
        out += [f"- **soak, {s.input}**: {s.note}" for s in soaks if s.note]
    row_notes = [f"- **{r.label}** ({r.broker}): {r.note}" for r in rows if r.note]
    na = [f"- **{r.label}** ({r.broker}): {r.latency_na}" for r in rows if r.latency is None and r.latency_na]
    out += ["", "## Notes", ""] + [f"- {n}" for n in notes] + row_notes
    if na:
        out += ["", "Latency not measured:", ""] + na
    out.append("")
    return "\n".join(out)


# --- the chart -----------------------------------------------------------------------------------

def chart_data(rows: list[Row]) -> str:
    """gnuplot data: index, label, records/s, colour index, text above the bar, its height. A row without a
    rate (not available yet, failed) keeps its place on the axis with an empty bar and a word."""
    colours = {CEILING: 1, PEER: 2, OURS: 3}
    lines = []
    for r in rows:
        label = f"{r.label} ({r.broker})".replace('"', "'")
        if r.ok:
            v = r.rate
            text = f"{v / 1e6:.3g}M" if v >= 1e6 else f"{v / 1e3:.3g}k" if v >= 1e3 else f"{v:.0f}"
            lines.append(f'{len(lines)} "{label}" {v:.1f} {colours[r.group]} "{text}" {v:.1f}')
        else:
            text = "not available yet" if r.status == "n/a" else "failed"
            lines.append(f'{len(lines)} "{label}" 100 {colours[r.group]} "{text}" 140')
    return "\n".join(lines) + "\n"


def gnuplot_script(data_path: str, png_path: str, title: str, n_bars: int) -> str:
    width = max(900, 110 * n_bars + 250)
    return f"""set terminal pngcairo size {width},640 font "DejaVu Sans,10"
set output "{png_path}"
set title "{title}"
set logscale y
set yrange [100:20000000]
set format y "%.0s%c"
set ylabel "records/s (log scale)"
set grid ytics
set style fill solid 0.85 border -1
set boxwidth 0.7
set xtics rotate by -25 left nomirror
set xrange [-0.6:{n_bars - 0.4}]
set bmargin 9
set rmargin 26
set key top right
set arrow from graph 0, first 1000000 to graph 1, first 1000000 nohead dt 2 lc rgb "#d9822b"
set label "goal, batched over RabbitMQ: 1M/s" at graph 0.01, first 1150000 font ",8" tc rgb "#d9822b"
set arrow from graph 0, first 500000 to graph 1, first 500000 nohead dt 3 lc rgb "#d9822b"
set label "goal, batched over Redis: 500k/s" at graph 0.01, first 420000 font ",8" tc rgb "#d9822b"
set linetype 1 lc rgb "#777777"
set linetype 2 lc rgb "#4a7fc1"
set linetype 3 lc rgb "#d9822b"
plot "{data_path}" using 1:3:4:xtic(2) with boxes lc variable notitle, \\
     "{data_path}" using 1:6:5 with labels offset 0,0.8 font ",9" notitle, \\
     NaN with boxes lt 1 title "ceiling (rabbitmq-c probe)", \\
     NaN with boxes lt 2 title "peers", \\
     NaN with boxes lt 3 title "Logship"
"""


def to_json(rows: list[Row], goals: list[Goal], machine: dict, settings: dict, command: str,
            notes: Optional[list[str]] = None, soaks: Optional[list[Soak]] = None) -> str:
    return json.dumps({"command": command, "machine": machine, "settings": settings, "notes": notes or [],
                       "rows": [dataclasses.asdict(r) | {"rate": r.rate, "mb_per_s": r.mb_per_s}
                                for r in rows],
                       "soaks": [dataclasses.asdict(s) | {"growth_kb_per_min": s.growth_kb_per_min}
                                 for s in soaks or []],
                       "goals": [dataclasses.asdict(g) | {"verdict": g.verdict} for g in goals]},
                      indent=2, ensure_ascii=False) + "\n"


def from_json(text: str) -> tuple[list[Row], dict, dict, str, list[str]]:
    """The inverse of to_json: rows, machine, settings, command, notes."""
    d = json.loads(text)
    rows = []
    for r in d["rows"]:
        r = {k: v for k, v in r.items() if k not in ("rate", "mb_per_s")}
        for side in ("sender", "receiver"):
            r[side] = ProcStats(**r[side]) if r[side] else None
        if r["latency"]:
            lat = dict(r["latency"])
            lat["procs"] = [ProcStats(**p) for p in lat["procs"]]
            r["latency"] = Latency(**lat)
        rows.append(Row(**r))
    return rows, d["machine"], d["settings"], d["command"], d.get("notes", [])


def soaks_from_json(text: str) -> list[Soak]:
    """The soak readings of a results.json (none in one written before the soak existed)."""
    return [Soak(**{k: v for k, v in s.items() if k != "growth_kb_per_min"})
            for s in json.loads(text).get("soaks", [])]


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list (p in 0..100)."""
    if not sorted_values:
        return math.nan
    k = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(k, len(sorted_values)) - 1]
