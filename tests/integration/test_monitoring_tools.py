#!/usr/bin/env python3
# test_monitoring_tools.py: mpmd's status and metrics read by the real
# programs operators point at them (TAP on stdout), each started by the
# test on a free loopback port and stopped by pid:
#   1. Prometheus' apache_exporter (Debian prometheus-apache-exporter),
#      scraping /server-status?auto as it scrapes Apache: it reports
#      apache_up 1, mpmd's version and MPM, and accesses, workers and
#      scoreboard counts equal to what ?auto says and to what the test sent;
#   2. Prometheus itself (Debian prometheus), scraping /metrics every
#      second: the target is up with no scrape error, and PromQL returns
#      mpmd_build_info and a request count that includes the test's
#      requests.
# Each part skips, saying why, when its program is not installed.
# Run by hand:  MPMD=src/mpmd python3 tests/integration/test_monitoring_tools.py

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

from mpmdtest import Server, free_port, run_tests, wait_until

EXPORTER = "/usr/bin/prometheus-apache-exporter"
BOUND = 20.0            # a started program answering; a scrape showing up

# MinSpareThreads 1: no child is started while the test compares two
# readings of the children and their threads.
CONF = """ExtendedStatus On
MinSpareThreads 1
MaxSpareThreads 64
<Location /server-status>
    SetHandler server-status
    Require ip 127.0.0.1 ::1
</Location>
<Location /metrics>
    SetHandler metrics
    Require ip 127.0.0.1 ::1
</Location>
"""


def fetch(url, timeout=5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode("utf-8", "replace")


def try_fetch(url):
    try:
        return fetch(url, timeout=2.0)
    except OSError:
        return None


def samples(text):
    """{'name{labels}': float} of a Prometheus text page."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def auto_fields(text):
    fields = {}
    for line in text.splitlines()[1:]:
        key, sep, value = line.partition(": ")
        if sep:
            fields[key] = value
    return fields


class Program:
    """A program the test starts in its own process group and stops by pid."""

    def __init__(self, argv, log):
        self.log = log
        with open(log, "wb") as out:
            self.p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    def stop(self):
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait(timeout=10)

    def tail(self):
        try:
            with open(self.log, "rb") as f:
                return f.read()[-600:].decode("utf-8", "replace")
        except OSError:
            return ""


def get_n(s, path, n):
    for _ in range(n):
        r = s.get(path)
        if r.status != 200:
            return False
    return True


def exporter_part(t, s, tmp):
    if not os.access(EXPORTER, os.X_OK):
        t.skip("apache_exporter", "prometheus-apache-exporter is not installed")
        return
    port = free_port()
    uri = "http://127.0.0.1:%d/server-status?auto" % s.port
    ex = Program([EXPORTER, "--scrape_uri=" + uri, "--telemetry.address=127.0.0.1:%d" % port],
                 os.path.join(tmp, "exporter.log"))
    url = "http://127.0.0.1:%d/metrics" % port
    try:
        first = None
        wait_until(lambda: try_fetch(url) is not None, BOUND)
        first = try_fetch(url)
        t.ok(first is not None, "apache_exporter answers on its port", ex.tail())
        if first is None:
            return
        m1 = samples(first)
        t.eq(m1.get("apache_up"), 1.0, "apache_exporter: apache_up 1 (it parsed ?auto)")
        info = [k for k in m1 if k.startswith("apache_info{")]
        t.ok(info and 'version="mpmd/' in info[0] and 'mpm="event"' in info[0],
             "apache_exporter: apache_info names mpmd's version and MPM", info)
        t.ok(m1.get("apache_version", 0) > 0, "apache_exporter: a version number parsed "
             "from ServerVersion (no panic on the three parts)", m1.get("apache_version"))
        # Its first scrape (one ?auto request) is counted after its answer;
        # then 7 requests of ours: the second scrape sees exactly 8 more.
        base = m1.get("apache_accesses_total")
        t.ok(get_n(s, "/index.html", 7), "7 GETs answered")
        time.sleep(0.3)
        m2 = samples(fetch(url))
        t.eq(m2.get("apache_accesses_total"), base + 8,
             "apache_exporter: apache_accesses_total grew by our 7 requests and its scrape")
        auto = auto_fields(s.get("/server-status?auto").text())
        t.eq(m2.get('apache_workers{state="idle"}'), float(auto["IdleWorkers"]),
             "apache_exporter: idle workers as ?auto's IdleWorkers")
        board = auto["Scoreboard"]
        t.eq(m2.get('apache_scoreboard{state="idle"}'), float(board.count("_")),
             "apache_exporter: scoreboard idle count as the Scoreboard line's '_'")
        t.eq(m2.get('apache_scoreboard{state="open_slot"}'), float(board.count(".")),
             "apache_exporter: open slots as the Scoreboard line's '.'")
        t.eq(m2.get('apache_processes{state="all"}'), float(auto["Processes"]),
             "apache_exporter: processes as ?auto's Processes")
        t.ok(m2.get("apache_duration_ms_total") is not None and
             m2.get("apache_sent_kilobytes_total") is not None,
             "apache_exporter: duration and traffic parsed (ExtendedStatus lines)")
    finally:
        ex.stop()


def prometheus_part(t, s, tmp):
    prom = shutil.which("prometheus")
    if not prom:
        t.skip("prometheus", "prometheus is not installed")
        return
    port = free_port()
    conf = os.path.join(tmp, "prometheus.yml")
    with open(conf, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n  - job_name: mpmd\n    metrics_path: /metrics\n"
                "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % s.port)
    pr = Program([prom, "--config.file=" + conf, "--storage.tsdb.path=" + os.path.join(tmp, "tsdb"),
                  "--web.listen-address=127.0.0.1:%d" % port], os.path.join(tmp, "prom.log"))
    api = "http://127.0.0.1:%d/api/v1/" % port
    try:
        t.ok(get_n(s, "/index.html", 5), "5 GETs answered before the scrapes")

        def query(q):
            text = try_fetch(api + "query?query=" + urllib.request.quote(q))
            return json.loads(text)["data"]["result"] if text else []

        def target_up():
            text = try_fetch(api + "targets")
            if not text:
                return None
            for tg in json.loads(text)["data"]["activeTargets"]:
                if tg["labels"].get("job") == "mpmd" and tg["health"] == "up":
                    return tg
            return None

        t.ok(wait_until(lambda: target_up() is not None, BOUND),
             "prometheus: the mpmd target is up", pr.tail())
        tg = target_up()
        t.eq(tg and tg.get("lastError"), "", "prometheus: no scrape error")
        t.ok(wait_until(lambda: query("mpmd_build_info"), BOUND),
             "prometheus: mpmd_build_info queried back")
        info = query("mpmd_build_info")
        t.ok(info and info[0]["metric"].get("mpm") == "event",
             "prometheus: build info labels kept", info)
        total = query('sum(mpmd_http_requests_total{method="GET",code="2xx"})')
        t.ok(total and float(total[0]["value"][1]) >= 5,
             "prometheus: PromQL sums the GET 2xx counter (>= our 5 requests)", total)
        hist = query("mpmd_http_request_duration_seconds_count")
        t.ok(hist and float(hist[0]["value"][1]) >= 5,
             "prometheus: the duration histogram's count is stored", hist)
    finally:
        pr.stop()


def main(t):
    tmp = tempfile.mkdtemp(prefix="mpmdtest-montools-")
    try:
        with t.guard("monitoring tools"), Server(mpm="event", tap=t, conf_extra=CONF) as s:
            exporter_part(t, s, tmp)
            prometheus_part(t, s, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(run_tests(main))
