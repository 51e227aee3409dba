"""Asserts, through the HTTP APIs of a real Prometheus and a real
Alertmanager, that Prometheus scraped the demo exporter (cloudquota_up is 1
for every demo target via /metrics and via /probe, all seven quota metric
families have series, the recording rule produced ratios) and that the
demo's near-full quota made CloudQuotaAlmostFull arrive at Alertmanager with
its labels and annotations."""
import json
import sys
import time
import urllib.parse
import urllib.request

DEMO_TARGETS = {"media-prod", "media-backup", "desktops-prod", "desktops-dev", "audit-prod", "audit-dev"}
FAMILIES = {
    "cloudquota_smh_space_capacity_bytes", "cloudquota_smh_space_available_bytes",
    "cloudquota_smh_space_used_bytes", "cloudquota_workspace_quota_limit",
    "cloudquota_workspace_quota_used", "cloudquota_cts_quota_limit", "cloudquota_cts_quota_used",
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
        problems.append(f"missing quota families: {sorted(FAMILIES - families)}")
    return problems


def check_recording_rule(base):
    services = {r["metric"].get("service") for r in query(base, 'cloudquota:usage:ratio{job="cloudquota"}')}
    if services != {"smh", "workspace", "cts"}:
        return [f"cloudquota:usage:ratio services {sorted(s for s in services if s)}, want smh, workspace, cts"]
    return []


def check_alertmanager(am):
    with urllib.request.urlopen(am + "/api/v2/alerts?active=true", timeout=10) as resp:
        alerts = json.load(resp)
    almost_full = [a for a in alerts if a["labels"].get("alertname") == "CloudQuotaAlmostFull"]
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
    base, am = sys.argv[1], sys.argv[2]
    if not wait_until("Prometheus", lambda: check(base), 60):
        return 1
    print("Prometheus: cloudquota_up 1 for all 6 demo targets (/metrics) and 3 probed targets (/probe); all 7 quota families present")
    if not wait_until("Recording rule", lambda: check_recording_rule(base), 60):
        return 1
    print("Prometheus: cloudquota:usage:ratio recorded for smh, workspace and cts")
    if not wait_until("Alertmanager", lambda: check_alertmanager(am), 90):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
