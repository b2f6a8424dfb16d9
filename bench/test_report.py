#!/usr/bin/python3
"""Unit test of the bench's result handling (bench/report.py, bench/run.py's options): no broker,
no process, no timing. Run by ctest as `bench_report` (label unit), or directly."""
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import loggen  # noqa: E402
import report as R  # noqa: E402
import run  # noqa: E402


def row(key, group, broker="RabbitMQ", records=100_000, seconds=10.0, **kw):
    r = R.Row(key, key.replace("_", " "), broker, group, "end to end", "confirms", records, 100, seconds, **kw)
    return r


def lat(p99, achieved=10_000, producer_mb=8, aggregator_mb=20):
    return R.Latency(10_000, achieved, 120_000, 100_000, 2.0, 5.0, p99, p99 * 2, 12, 2,
                     [R.ProcStats("producer", 1, producer_mb * 1000), R.ProcStats("aggregator", 1, aggregator_mb * 1000)])


class ReportTest(unittest.TestCase):
    def rows(self):
        probe = row("probe", R.CEILING, seconds=5.0,
                    sender=R.ProcStats("probe pub", 0.5, 3000), receiver=R.ProcStats("probe sub", 0.5, 3000))
        ours = row("ours_amqp", R.OURS, seconds=10.0, sender=R.ProcStats("producer", 1.0, 9000),
                   receiver=R.ProcStats("aggregator", 2.0, 20000), latency=lat(30))
        batched = row("ours_amqp_batched", R.OURS, status="n/a", note="not available yet", seconds=None)
        redis = row("ours_redis", R.OURS, broker="Redis", seconds=1.0, sender=R.ProcStats("producer", 0.1, 40000),
                    receiver=R.ProcStats("aggregator", 0.3, 20000), latency=lat(80, achieved=9_000))
        rb = row("redis_benchmark_1", R.PEER, broker="Redis", seconds=0.5, sender=R.ProcStats("redis-benchmark", 0.1, 2000))
        failed = row("syslog_ng", R.PEER, status="failed", note="boom")
        shape = row("probe_our_shape", R.CEILING, seconds=8.0)
        redis_batched = row("ours_redis_batched", R.OURS, broker="Redis", records=1_000_000, seconds=2.0,
                            wire_bytes=211_000_000, throughput_only=True)
        redis_zstd = row("ours_redis_batched_zstd", R.OURS, broker="Redis", records=1_000_000, seconds=1.0,
                         wire_bytes=49_000_000, throughput_only=True)
        return [probe, ours, batched, failed, rb, redis, shape, redis_batched, redis_zstd]

    def test_rates_and_derived_figures(self):
        r = self.rows()[1]
        self.assertEqual(r.rate, 10_000)
        self.assertAlmostEqual(r.mb_per_s, 1.0)
        self.assertAlmostEqual(r.client_cpu_s, 3.0)
        self.assertAlmostEqual(r.cpu_us_per_record, 30.0)
        self.assertIsNone(self.rows()[2].rate)  # n/a rows have no rate
        self.assertIsNone(self.rows()[3].rate)  # nor failed ones

    def test_goals(self):
        goals = {g.text.split(":")[0].split(" (")[0]: g for g in R.evaluate_goals(self.rows())}
        verdict = lambda prefix: next(g for t, g in goals.items() if t.startswith(prefix))
        self.assertIsNone(verdict("batched, end to end over RabbitMQ").met)
        self.assertIn("not available yet", verdict("batched, end to end over RabbitMQ").measured)
        self.assertIn("one record per message: 10,000", verdict("batched, end to end over RabbitMQ").measured)
        self.assertFalse(verdict("one record per message").met)  # 10k vs the shaped probe's 12.5k: 0.8x
        self.assertIn("0.80×", verdict("one record per message").measured)
        self.assertIsNone(verdict("batched with --compress zstd, end to end over RabbitMQ").met)  # no row
        self.assertFalse(verdict("batched, end to end over Redis").met)  # 500,000 < 1,000,000
        wire = verdict("--compress zstd")
        self.assertTrue(wire.met)  # 49 / 211 = 0.232
        self.assertIn("0.232", wire.measured)
        self.assertFalse(verdict("peak RSS of log_producer").met)  # 40.96 MB over Redis
        self.assertTrue(verdict("peak RSS of log_aggregator").met)
        p99 = [g for g in R.evaluate_goals(self.rows()) if g.text.startswith("p99")]
        self.assertEqual([g.met for g in p99], [True, False])  # RabbitMQ 30 ms; Redis 80 ms, rate not held
        self.assertIn("could not hold the rate", p99[1].measured)
        self.assertEqual(p99[0].verdict, "met")

    def test_tables(self):
        rows = self.rows()[:6]  # without the goal-only rows
        cells = R.table_cells(rows)
        self.assertEqual(len(cells[0]), len(R.COLUMNS))
        self.assertEqual(cells[1][5], "10,000")        # records/s
        self.assertEqual(cells[1][7], "0.50×")          # x probe
        self.assertEqual(cells[1][-1], "30.0")          # p99
        self.assertEqual(cells[0][-1], "n/a")
        self.assertEqual(cells[2][4], "not available yet")
        self.assertEqual(cells[3][4], "FAILED")
        text = R.text_table(R.COLUMNS, cells)
        lines = text.splitlines()
        self.assertEqual(len(lines[0]), len(lines[1]))  # header and its rule line up
        self.assertEqual(len(lines), len(rows) + 2)
        md = R.md_table(R.COLUMNS, cells)
        self.assertTrue(all(l.startswith("| ") or l.startswith("|-") for l in md.splitlines()))
        h, c = R.ratio_cells(rows, "rate")
        self.assertEqual(h, ["Ours", "probe (RabbitMQ)", "redis benchmark 1 (Redis)"])
        self.assertEqual(c, [["ours amqp", "0.50×", ""], ["ours redis", "", "0.50×"]])
        self.assertIn("ours amqp (RabbitMQ): 0.50× probe", R.stdout_report(rows, R.evaluate_goals(rows)))

    def test_markdown_and_chart(self):
        rows = self.rows()
        md = R.markdown_report(rows, R.evaluate_goals(rows), {"CPU": "x"}, "make bench BENCH_N=5", {"N": 5},
                               ["shared machine"], "results.png")
        for needle in ("make bench BENCH_N=5", "**CPU**: x", "![records/s, log scale](results.png)",
                       "**NOT MET", "shared machine", "## Latency runs"):
            self.assertIn(needle, md)
        data = R.chart_data(rows).splitlines()
        self.assertEqual(len(data), len(rows))  # rows without a rate keep their place
        self.assertEqual(data[0], '0 "probe (RabbitMQ)" 20000.0 1 "20k" 20000.0')
        self.assertEqual(data[2], '2 "ours amqp batched (RabbitMQ)" 100 3 "not available yet" 140')
        self.assertEqual(data[3], '3 "syslog ng (RabbitMQ)" 100 2 "failed" 140')
        self.assertIn('set output "out.png"', R.gnuplot_script("d", "out.png", "t", 4))
        self.assertIn('"verdict": "met"', R.to_json(rows, R.evaluate_goals(rows), {}, {}, "c"))

    def test_latency_goal_needs_the_goal_rate(self):
        r = row("ours_amqp", R.OURS, latency=lat(5))
        r.latency.target_rate = r.latency.achieved_rate = 2_000
        g = [g for g in R.evaluate_goals([r]) if g.text.startswith("p99")][0]
        self.assertIsNone(g.met)
        self.assertIn("paced at 2,000", g.measured)

    def test_median_run(self):
        runs = [row("ours_amqp", R.OURS, seconds=s) for s in (10.0, 5.0, 20.0)]
        best = run.median_run(runs)
        self.assertEqual(best.rate, 10_000)
        self.assertIn("Median of 3 runs by records/s (5,000, 10,000, 20,000)", best.note)
        failed = row("ours_amqp", R.OURS, status="failed", note="boom")
        self.assertIs(run.median_run([runs[0], failed]), failed)

    def test_json_round_trip(self):
        rows = self.rows()
        text = R.to_json(rows, R.evaluate_goals(rows), {"CPU": "x"}, {"N": 5}, "make bench", ["n1"])
        back, machine, settings, command, notes = R.from_json(text)
        self.assertEqual(back, rows)
        self.assertEqual((machine, settings, command, notes), ({"CPU": "x"}, {"N": 5}, "make bench", ["n1"]))

    def test_rows_against_their_base_row(self):
        base = row("sentinel_batched", R.OURS, broker="Sentinel", seconds=4.0, broker_cpu_s=2.0,
                   sender=R.ProcStats("producer", 1.0, 9000), receiver=R.ProcStats("aggregator", 1.0, 9000))
        wait1 = row("sentinel_batched_wait1", R.OURS, broker="Sentinel", seconds=5.0, broker_cpu_s=3.0,
                    sender=R.ProcStats("producer", 2.0, 9000), receiver=R.ProcStats("aggregator", 1.0, 9000),
                    versus="sentinel_batched", throughput_only=True)
        orphan = row("cluster_quorum", R.OURS, broker="Cluster", versus="cluster_classic", throughput_only=True)
        rows = self.rows() + [base, wait1, orphan]
        self.assertEqual(R.versus_cells(rows), [["sentinel batched wait1 (Sentinel)", "sentinel batched (Sentinel)",
                                                  "0.80×", "1.50×", "1.50×"]])  # a base row not run: no line
        md = R.markdown_report(rows, R.evaluate_goals(rows), {}, "c", {}, [], None)
        self.assertIn("## Against the base row", md)
        self.assertNotIn("## Against the base row", R.markdown_report(self.rows(), [], {}, "c", {}, [], None))
        self.assertIn("Against the base row", R.stdout_report(rows, R.evaluate_goals(rows)))
        # No reference on their broker: not in the ours-against-peers tables.
        self.assertNotIn("sentinel batched wait1", str(R.ratio_cells(rows, "rate")[1]))
        self.assertFalse(any("wait1" in line for line in R.ratio_lines(rows)))
        # Throughput-only rows have no latency goal.
        self.assertFalse(any("wait1" in g.text for g in R.evaluate_goals(rows)))
        back = R.from_json(R.to_json(rows, [], {}, {}, "c"))[0]
        self.assertEqual((back[-2].versus, back[-2].throughput_only), ("sentinel_batched", True))

    def test_only_selects_keys_and_first_words(self):
        keys = {"probe", "probe_our_shape", "ours_amqp", "cluster_quorum", "cluster_stream_batched", "sentinel_batched"}
        pick = lambda only: sorted(k for k in keys if run.selected(only, k, keys))
        self.assertEqual(pick("cluster"), ["cluster_quorum", "cluster_stream_batched", "probe"])
        self.assertEqual(pick("sentinel_batched,ours_amqp"), ["ours_amqp", "probe", "sentinel_batched"])
        self.assertEqual(pick("probe"), ["probe"])  # a word that is a key is that key only

    def soaks(self):
        return [R.Soak("stdin", 5000, 1_500_000, 60.0, 300.0, 20_000, 20_000),
                R.Soak("syslog udp", 5000, 1_500_000, 60.0, 300.0, 20_000, 70_000),
                R.Soak("follow", 5000, 10, status="failed", note="the producer exited")]

    def test_soak(self):
        soaks = self.soaks()
        self.assertEqual(soaks[0].growth_kb_per_min, 0)
        self.assertEqual(soaks[1].growth_kb_per_min, 12_500)  # 50,000 KiB over 4 minutes
        self.assertIsNone(soaks[2].growth_kb_per_min)
        self.assertIsNone(R.Soak("stdin", 5000, early_rss_kb=1).growth_kb_per_min)  # no late reading
        cells = R.soak_cells(soaks)
        self.assertEqual(cells[1], ["syslog udp", "5,000", "1,500,000", "20.5 at 60 s", "71.7 at 300 s", "12,500.0"])
        self.assertEqual(cells[2][3], "failed")
        rows = self.rows()
        md = R.markdown_report(rows, R.evaluate_goals(rows), {}, "c", {}, [], None, soaks)
        self.assertIn("## Soak", md)
        self.assertIn("| syslog udp | 5,000 | 1,500,000 | 20.5 at 60 s | 71.7 at 300 s | 12,500.0 |", md)
        self.assertIn("**soak, follow**: the producer exited", md)
        self.assertNotIn("## Soak", R.markdown_report(rows, R.evaluate_goals(rows), {}, "c", {}, [], None))
        self.assertIn("Soak, log_producer's RSS", R.stdout_report(rows, R.evaluate_goals(rows), soaks))
        text = R.to_json(rows, R.evaluate_goals(rows), {}, {}, "c", [], soaks)
        self.assertEqual(R.soaks_from_json(text), soaks)
        self.assertEqual(R.soaks_from_json(R.to_json(rows, [], {}, {}, "c")), [])

    def test_percentile(self):
        v = list(range(1, 101))
        self.assertEqual(R.percentile(v, 50), 50)
        self.assertEqual(R.percentile(v, 99), 99)
        self.assertEqual(R.percentile(v, 100), 100)
        self.assertEqual(R.percentile([7], 99), 7)

    def test_options(self):
        a = run.parse_args([])
        self.assertEqual((a.n, a.slow_n, a.pika_n, a.syslog_n, a.batched_n), (200_000, 10_000, 50_000, 100_000, 1_000_000))
        q = run.parse_args(["--quick"])
        self.assertEqual((q.n, q.latency_seconds, q.latency_warmup), (20_000, 5, 1))
        self.assertEqual(run.parse_args(["--quick", "--n", "5000"]).n, 5000)
        self.assertEqual(run.parse_args(["--agg-args", "--fsync --prefetch 500"]).agg_args, ["--fsync", "--prefetch", "500"])
        self.assertEqual((a.soak_seconds, a.soak_rate, q.soak_seconds), (300, 5000, 30))
        self.assertEqual(run.parse_args(["--quick", "--soak-seconds", "90"]).soak_seconds, 90)
        self.assertTrue(run.soak_selected(a))
        self.assertFalse(run.soak_selected(run.parse_args(["--no-soak"])))
        self.assertFalse(run.soak_selected(run.parse_args(["--only", "ours_amqp"])))
        self.assertTrue(run.soak_selected(run.parse_args(["--only", "ours_amqp,soak"])))
        self.assertEqual(run.soak_marks(300), (60, 300))
        self.assertEqual(run.soak_marks(30), (6, 30))

    def test_baselines_are_the_projects_own_unless_shared(self):
        """make bench runs from a clone alone: every baseline is in bench/baselines/ and nothing
        outside the tree is needed by default; --shared DIR takes the probe and the pika scripts
        from DIR (the syslog-ng configuration stays ours)."""
        own = run.baseline_paths(None)
        self.assertEqual(set(own), set(run.SHARED_BASELINES) | {"syslog-ng.conf"})
        for name, path in own.items():
            self.assertEqual(path, run.BENCH_DIR / "baselines" / name)
            self.assertTrue(path.is_file(), path)
        self.assertIsNone(run.parse_args([]).shared)
        shared = Path("/elsewhere/bench")
        theirs = run.baseline_paths(shared)
        for name in run.SHARED_BASELINES:
            self.assertEqual(theirs[name], shared / name)
        self.assertEqual(theirs["syslog-ng.conf"], own["syslog-ng.conf"])
        self.assertEqual(run.parse_args(["--shared", "/x"]).shared, "/x")
        body = (run.BENCH_DIR / "baselines" / "seed_pika" / "log_producer.py").read_text()
        self.assertIn(f'BENCH_BODY = "{run.PIKA_BODY}"', body)  # the payload the pika rows report


class LoggenTest(unittest.TestCase):
    """The realistic input (bench/loggen.py): the same lines for the same seed, the mix of kinds
    and the spread of lengths the documentation promises, and not compressible like the old input."""

    def test_same_seed_same_lines(self):
        self.assertEqual(list(loggen.generate(500, seed=7)), list(loggen.generate(500, seed=7)))
        self.assertNotEqual(list(loggen.generate(500, seed=7)), list(loggen.generate(500, seed=8)))

    def test_mix_and_lengths(self):
        lines = list(loggen.generate(20_000, seed=1))
        self.assertEqual(len(lines), 20_000)
        self.assertFalse(any("\n" in x for x in lines))
        kinds = {"access": sum('HTTP/1.1"' in x for x in lines), "json": sum(x.startswith('{"ts"') for x in lines),
                 "frames": sum(x.startswith("    at ") for x in lines),
                 "app": sum(" request_id=" in x and " trace_id=" in x for x in lines)}
        for kind, share in {"access": 0.35, "app": 0.30, "json": 0.08, "frames": 0.05}.items():
            self.assertGreater(kinds[kind] / len(lines), share, kind)
        mean = sum(len(x) + 1 for x in lines) / len(lines)
        self.assertTrue(170 <= mean <= 240, mean)
        self.assertGreater(len(set(lines)), 19_000)  # ids, times and numbers: only stack frames repeat
        spread = sorted(len(x) for x in lines)
        self.assertLess(spread[len(spread) // 10], 120)
        self.assertGreater(spread[9 * len(spread) // 10], 240)

    def test_batches_hold_whole_lines(self):
        data = "".join(x + "\n" for x in loggen.generate(5000, seed=1)).encode()
        parts = list(loggen.batches(data, 64 * 1024))
        self.assertEqual(b"".join(parts), data)
        self.assertTrue(all(p.endswith(b"\n") and len(p) <= 64 * 1024 for p in parts))

    def test_fewer_bytes_than_the_old_input_compresses_to(self):
        data = "".join(x + "\n" for x in loggen.generate(3000, seed=1)).encode()
        old = "".join(f"2026-11-23T00:00:00.000000Z INFO bench-{i:09d} user=alice ".ljust(100, "x") + "\n"
                      for i in range(3000)).encode()
        ratio = loggen.zstd_ratio(data, 1)
        self.assertTrue(2.0 < ratio < 10.0, ratio)
        self.assertGreater(loggen.zstd_ratio(old, 1), 2 * ratio)


if __name__ == "__main__":
    unittest.main()
