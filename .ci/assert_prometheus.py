"""Asserts, through a real Prometheus's HTTP API, that it scraped the demo
exporter: cloudquota_up is 1 for every demo target (via /metrics and via
/probe) and all seven quota metric families have series."""
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


def main():
    base = sys.argv[1]
    deadline = time.time() + 60
    problems = ["no check ran"]
    while time.time() < deadline:
        try:
            problems = check(base)
        except Exception as exc:  # Prometheus still starting
            problems = [str(exc)]
        if not problems:
            print("Prometheus: cloudquota_up 1 for all 6 demo targets (/metrics) and 3 probed targets (/probe); all 7 quota families present")
            return 0
        time.sleep(1)
    print("Prometheus assertions failed:\n  " + "\n  ".join(problems))
    return 1


if __name__ == "__main__":
    sys.exit(main())
