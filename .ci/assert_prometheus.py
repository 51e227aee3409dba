"""Asserts, through the HTTP APIs of a real Prometheus and a real
Alertmanager:

  up    (default): Prometheus scraped the demo exporter (cloudquota_up is 1
        for every demo target via /metrics and via /probe, all eleven quota
        metric families have series, the recording rules produced ratios and
        cloudquota:exporter:up is 1 for both jobs), none of the alerts about
        the chain breaking fires, and the demo's near-full quota made
        CloudQuotaAlmostFull arrive at Alertmanager with its labels and
        annotations;
  down  (after the exporter was stopped): CloudQuotaExporterDown fires in
        Prometheus for the /metrics job and every /probe target, and arrives
        at Alertmanager with its labels and annotations.

Usage: assert_prometheus.py PROMETHEUS_URL ALERTMANAGER_URL [up|down] [NAME]
NAME is the value of the external label ci_prometheus of that Prometheus:
only its alerts count at an Alertmanager that several send to."""
import json
import sys
import time
import urllib.parse
import urllib.request

# The demo's targets (internal/demo), discovered spaces, looked-up project
# and listed sites included.
DEMO_TARGETS = {"media-prod", "media-backup", "desktops-prod", "desktops-dev", "audit-prod", "audit-dev",
                "media-all", "desktops-found", "desktops-all-sites"}
FAMILIES = {
    "cloudquota_smh_space_capacity_bytes", "cloudquota_smh_space_available_bytes",
    "cloudquota_smh_space_used_bytes", "cloudquota_workspace_quota_limit",
    "cloudquota_workspace_quota_used", "cloudquota_cts_quota_limit", "cloudquota_cts_quota_used",
    # media-all's library totals (library_usage)
    "cloudquota_smh_library_used_bytes", "cloudquota_smh_library_capacity_bytes",
    "cloudquota_smh_library_available_bytes", "cloudquota_smh_library_allocated_bytes",
}


def query(base, expr):
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as resp:
        body = json.load(resp)
    if body.get("status") != "success":
        raise RuntimeError(f"query {expr!r} failed: {body}")
    return body["data"]["result"]


def check(base):
    problems = []
    up = query(base, 'cloudquota_up{job="cloudquota"}')
    up_targets = {r["metric"]["target"]: r["value"][1] for r in up}
    if set(up_targets) != DEMO_TARGETS:
        problems.append(f"cloudquota_up targets {sorted(up_targets)} != {sorted(DEMO_TARGETS)}")
    down = sorted(t for t, v in up_targets.items() if v != "1")
    if down:
        problems.append(f"cloudquota_up is not 1 for {down}")
    probed = query(base, 'cloudquota_up{job="cloudquota-probe"} == 1')
    if len(probed) != 3:
        problems.append(f"/probe: {len(probed)} of 3 probed targets up")
    families = {r["metric"]["__name__"] for r in query(base, 'count by (__name__) ({__name__=~"cloudquota_(smh|workspace|cts)_.+",job="cloudquota"})')}
    if families != FAMILIES:
        problems.append(f"quota families missing: {sorted(FAMILIES - families)}, unexpected: {sorted(families - FAMILIES)}")
    return problems


PROBED = {"media-prod", "desktops-prod", "audit-prod"}
CHAIN_ALERTS = ("CloudQuotaExporterDown", "CloudQuotaExporterAbsent", "CloudQuotaReloadFailed",
                "CloudQuotaCredentialBackingOff", "CloudQuotaClockSkew")


def check_recording_rule(base):
    problems = []
    services = {r["metric"].get("service") for r in query(base, 'cloudquota:usage:ratio{job="cloudquota"}')}
    if services != {"smh", "workspace", "cts"}:
        problems.append(f"cloudquota:usage:ratio services {sorted(s for s in services if s)}, want smh, workspace, cts")
    up = {(r["metric"]["job"], r["value"][1]) for r in query(base, "cloudquota:exporter:up")}
    if {j for j, _ in up} != {"cloudquota", "cloudquota-probe"} or {v for _, v in up} != {"1"}:
        problems.append(f"cloudquota:exporter:up is {sorted(up)}, want 1 for jobs cloudquota and cloudquota-probe")
    return problems


def check_chain_quiet(base):
    """None of the alerts about the chain breaking is pending or firing."""
    alerts = query(base, 'ALERTS{alertname=~"%s"}' % "|".join(CHAIN_ALERTS))
    return [f"{a['metric']['alertname']} is {a['metric']['alertstate']}: {a['metric']}" for a in alerts]


def am_alerts(am, name, alertname):
    with urllib.request.urlopen(am + "/api/v2/alerts?active=true", timeout=10) as resp:
        alerts = json.load(resp)
    mine = [a for a in alerts if name is None or a["labels"].get("ci_prometheus") == name]
    return mine, [a for a in mine if a["labels"].get("alertname") == alertname]


def check_alertmanager(am, name):
    alerts, almost_full = am_alerts(am, name, "CloudQuotaAlmostFull")
    if not almost_full:
        return [f"CloudQuotaAlmostFull not at Alertmanager yet (it has {sorted({a['labels'].get('alertname') for a in alerts})})"]
    problems = []
    for a in almost_full:
        missing = [k for k in ("severity", "target", "service") if not a["labels"].get(k)]
        missing += [k for k in ("summary", "description") if not a["annotations"].get(k)]
        if missing:
            problems.append(f"CloudQuotaAlmostFull alert {a['labels']} lacks {missing}")
    if not problems:
        names = sorted({(a["labels"]["target"], a["labels"].get("resource") or a["labels"].get("space_id")) for a in almost_full})
        print(f"Alertmanager received CloudQuotaAlmostFull for {names}")
    return problems


def check_exporter_down(base):
    firing = query(base, 'ALERTS{alertname="CloudQuotaExporterDown", alertstate="firing"}')
    got = {(a["metric"]["job"], a["metric"]["instance"]) for a in firing}
    jobs = {j for j, _ in got}
    probes = {i for j, i in got if j == "cloudquota-probe"}
    if "cloudquota" not in jobs or probes != PROBED:
        return [f"CloudQuotaExporterDown firing for {sorted(got)}, want job cloudquota and the probes {sorted(PROBED)}"]
    return []


def check_alertmanager_down(am, name):
    alerts, down = am_alerts(am, name, "CloudQuotaExporterDown")
    got = {(a["labels"].get("job"), a["labels"].get("instance")) for a in down}
    if "cloudquota" not in {j for j, _ in got} or {i for j, i in got if j == "cloudquota-probe"} != PROBED:
        return [f"CloudQuotaExporterDown at Alertmanager for {sorted(got)} (it has {sorted({a['labels'].get('alertname') for a in alerts})})"]
    problems = []
    for a in down:
        if a["labels"].get("severity") != "critical":
            problems.append(f"CloudQuotaExporterDown {a['labels']}: severity is not critical")
        missing = [k for k in ("summary", "description") if not a["annotations"].get(k)]
        if missing:
            problems.append(f"CloudQuotaExporterDown {a['labels']} lacks {missing}")
    if not problems:
        print(f"Alertmanager received CloudQuotaExporterDown (critical) for {sorted(got)}")
    return problems


def wait_until(what, check, timeout):
    deadline = time.time() + timeout
    problems = ["no check ran"]
    while time.time() < deadline:
        try:
            problems = check()
        except Exception as exc:  # still starting
            problems = [str(exc)]
        if not problems:
            return True
        time.sleep(1)
    print(f"{what} assertions failed:\n  " + "\n  ".join(problems))
    return False


def main():
    if len(sys.argv) not in (3, 4, 5) or (len(sys.argv) > 3 and sys.argv[3] not in ("up", "down")):
        print(__doc__, file=sys.stderr)
        return 2
    base, am = sys.argv[1], sys.argv[2]
    phase = sys.argv[3] if len(sys.argv) > 3 else "up"
    name = sys.argv[4] if len(sys.argv) > 4 else None
    if phase == "down":
        if not wait_until("Exporter down", lambda: check_exporter_down(base), 60):
            return 1
        print("Prometheus: CloudQuotaExporterDown firing for the /metrics job and the 3 probed targets")
        return 0 if wait_until("Alertmanager", lambda: check_alertmanager_down(am, name), 60) else 1
    if not wait_until("Prometheus", lambda: check(base), 60):
        return 1
    print(f"Prometheus: cloudquota_up 1 for all {len(DEMO_TARGETS)} demo targets (/metrics) and 3 probed targets (/probe); all {len(FAMILIES)} quota families present")
    if not wait_until("Recording rules", lambda: check_recording_rule(base), 60):
        return 1
    print("Prometheus: cloudquota:usage:ratio recorded for smh, workspace and cts; cloudquota:exporter:up 1 for both jobs")
    if not wait_until("Chain alerts", lambda: check_chain_quiet(base), 30):
        return 1
    print("Prometheus: no exporter-down, absent, reload, back-off or clock alert pending or firing")
    if not wait_until("Alertmanager", lambda: check_alertmanager(am, name), 90):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
