#!/usr/bin/env python3
"""Validate the cloudquota Grafana dashboard.

Usage: python3 dashboards/check_dashboard.py dashboards/cloudquota.json [--rules FILE]

Checks:
  * the file is JSON with uid, title, tags, a schemaVersion and no "id";
  * variables datasource (type datasource, query prometheus) and job,
    instance, service, target (query variables on label_values(cloudquota_up...),
    multi-value with "All") exist;
  * every panel (rows excepted; panels nested in rows are checked) has a
    title, a description, fieldConfig.defaults.unit, a datasource
    {"type": "prometheus", "uid": "${datasource}"} on the panel and on each of
    its queries, and at least one query;
  * every rate()/irate()/increase() uses the range [$__rate_interval];
  * every cloudquota metric or recorded series a query names is exported by
    cloudquota_exporter or recorded in the rules file (default:
    cloudquota-rules.yml next to the dashboard);
  * every PromQL expression (panel queries, and the series selectors inside the
    query variables' label_values()) parses: Grafana variables are replaced
    ($__rate_interval -> 5m, $__range -> 1h, $__interval -> 1m, other variables
    -> .*), the expressions are written as recording rules to a temporary file
    and checked with `promtool check rules`.

Exits 0 when everything passes, 1 with one message per problem otherwise
(2 on usage errors or when promtool is missing).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

DS_UIDS = ("${datasource}", "$datasource")
REQUIRED_QUERY_VARS = ("job", "instance", "service", "target")

# Metrics cloudquota_exporter exports (README "Metrics").
EXPORTER_METRICS = {
    "cloudquota_smh_space_capacity_bytes",
    "cloudquota_smh_space_available_bytes",
    "cloudquota_smh_space_used_bytes",
    "cloudquota_workspace_quota_limit",
    "cloudquota_workspace_quota_used",
    "cloudquota_cts_quota_limit",
    "cloudquota_cts_quota_used",
    "cloudquota_up",
    "cloudquota_collect_duration_seconds",
    "cloudquota_last_success_timestamp_seconds",
    "cloudquota_api_requests_total",
    "cloudquota_exporter_build_info",
    "cloudquota_exporter_config_last_reload_successful",
    "cloudquota_exporter_config_last_reload_success_timestamp_seconds",
    "cloudquota_credential_backoff_seconds",  # collector/descs.go, not yet in README
}

# Grafana built-in variables and what they become for the syntax check.
BUILTINS = {
    "__rate_interval": "5m",
    "__range": "1h",
    "__interval": "1m",
    "__range_s": "3600",
    "__range_ms": "3600000",
    "__interval_ms": "60000",
}

VAR_RE = re.compile(
    r"\$\{(?P<b>\w+)(?::[^}]*)?\}"  # ${name} / ${name:format}
    r"|\[\[(?P<c>\w+)(?::[^\]]*)?\]\]"  # [[name]] (deprecated)
    r"|\$(?P<a>\w+)"  # $name
)
RATE_FUNC_RE = re.compile(r"\b(rate|irate|increase)\s*\(")
RANGE_RE = re.compile(r"\[([^\[\]]*)\]")
METRIC_RE = re.compile(r"(?<![\w:\"'])cloudquota[\w:]*")


class Checker:
    def __init__(self):
        self.problems = []

    def fail(self, where, msg):
        self.problems.append(f"{where}: {msg}")


def strip_strings(expr):
    """Replace the contents of PromQL string literals by blanks (keeps offsets)."""
    out, i, n = [], 0, len(expr)
    while i < n:
        ch = expr[i]
        if ch in "\"'`":
            j = i + 1
            while j < n and expr[j] != ch:
                j += 2 if expr[j] == "\\" and ch != "`" else 1
            out.append(ch + " " * (min(j, n) - i - 1) + (ch if j < n else ""))
            i = j + 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def call_argument(expr, open_paren):
    """Text between the parenthesis at open_paren and its match (None if unbalanced)."""
    depth = 0
    for i in range(open_paren, len(expr)):
        if expr[i] == "(":
            depth += 1
        elif expr[i] == ")":
            depth -= 1
            if depth == 0:
                return expr[open_paren + 1:i]
    return None


def check_rate_intervals(c, where, expr):
    code = strip_strings(expr)
    for m in RATE_FUNC_RE.finditer(code):
        arg = call_argument(code, m.end() - 1)
        if arg is None:
            c.fail(where, f"unbalanced parentheses after {m.group(1)}(")
            continue
        ranges = RANGE_RE.findall(arg)
        if not ranges:
            c.fail(where, f"{m.group(1)}() without a range selector")
        for r in ranges:
            if r.strip() != "$__rate_interval":
                c.fail(where, f"{m.group(1)}() uses [{r}], must use [$__rate_interval]")


def substitute(c, where, expr):
    def repl(m):
        name = m.group("a") or m.group("b") or m.group("c")
        if name in BUILTINS:
            return BUILTINS[name]
        if name.startswith("__"):
            c.fail(where, f"unknown Grafana built-in variable ${name}")
            return "1"
        return ".*"

    return VAR_RE.sub(repl, expr)


def check_metric_names(c, where, expr, known):
    for name in METRIC_RE.findall(strip_strings(expr)):
        if name not in known:
            c.fail(where, f"unknown metric or recorded series {name!r} (not exported, not in the rules file)")


def is_prom_ds(ds):
    return isinstance(ds, dict) and ds.get("type") == "prometheus" and ds.get("uid") in DS_UIDS


def walk_panels(panels):
    for p in panels or []:
        yield p
        if p.get("type") == "row":
            yield from walk_panels(p.get("panels"))


def check_dashboard(c, dash, known, exprs):
    for key in ("uid", "title", "tags", "schemaVersion"):
        if not dash.get(key):
            c.fail("dashboard", f"missing {key!r}")
    if "id" in dash and dash["id"] is not None:
        c.fail("dashboard", '"id" must not be set (Grafana assigns it on import)')
    if not dash.get("description"):
        c.fail("dashboard", "missing description")

    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds:
        c.fail("variables", "missing variable 'datasource'")
    elif ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        c.fail("variable datasource", 'must be type "datasource" with query "prometheus"')
    for name in REQUIRED_QUERY_VARS:
        v = variables.get(name)
        where = f"variable {name}"
        if not v:
            c.fail("variables", f"missing variable {name!r}")
            continue
        if v.get("type") != "query":
            c.fail(where, 'must be type "query"')
        if not is_prom_ds(v.get("datasource")):
            c.fail(where, 'datasource must be {"type": "prometheus", "uid": "${datasource}"}')
        if not (v.get("multi") and v.get("includeAll")):
            c.fail(where, "must be multi-value with includeAll")
        q = v.get("query")
        q = q.get("query", "") if isinstance(q, dict) else (q or "")
        m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", q, re.S)
        if not m or m.group(2) != name or not m.group(1).strip().startswith("cloudquota_up"):
            c.fail(where, f"query must be label_values(cloudquota_up..., {name}), got {q!r}")
            continue
        exprs.append((where, m.group(1)))
    for name, v in variables.items():
        if name in REQUIRED_QUERY_VARS or v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query", "") if isinstance(q, dict) else (q or "")
        m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", q, re.S)
        if m:
            exprs.append((f"variable {name}", m.group(1)))

    panels = list(walk_panels(dash.get("panels")))
    if not panels:
        c.fail("dashboard", "no panels")
    ids = set()
    for p in panels:
        if p.get("type") == "row":
            continue
        where = f"panel {p.get('id')} {p.get('title')!r}"
        if p.get("id") in ids:
            c.fail(where, "duplicate panel id")
        ids.add(p.get("id"))
        if not p.get("title"):
            c.fail(where, "missing title")
        if not p.get("description"):
            c.fail(where, "missing description")
        if not p.get("fieldConfig", {}).get("defaults", {}).get("unit"):
            c.fail(where, "missing fieldConfig.defaults.unit")
        if not is_prom_ds(p.get("datasource")):
            c.fail(where, 'datasource must be {"type": "prometheus", "uid": "${datasource}"}')
        targets = p.get("targets") or []
        if not targets:
            c.fail(where, "no queries")
        for t in targets:
            twhere = f"{where} query {t.get('refId')}"
            if not is_prom_ds(t.get("datasource")):
                c.fail(twhere, 'datasource must be {"type": "prometheus", "uid": "${datasource}"}')
            expr = t.get("expr")
            if not expr or not expr.strip():
                c.fail(twhere, "empty expr")
                continue
            check_rate_intervals(c, twhere, expr)
            check_metric_names(c, twhere, expr, known)
            exprs.append((twhere, expr))


def promtool_check(c, exprs, promtool):
    """Write exprs as recording rules and run promtool check rules.

    Returns the promtool output of a failing run (or None)."""

    def run(items):
        rules = [{"record": f"dashboard_check:expr_{i}", "expr": e} for i, (_, e) in enumerate(items)]
        doc = {"groups": [{"name": "dashboard-check", "rules": rules}]}
        with tempfile.NamedTemporaryFile("w", suffix=".rules.yml", delete=False) as f:
            json.dump(doc, f, indent=2)  # JSON is valid YAML
            path = f.name
        try:
            r = subprocess.run([promtool, "check", "rules", path], capture_output=True, text=True)
        finally:
            os.unlink(path)
        return r.returncode, (r.stdout + r.stderr).replace(path, "<rules>")

    rc, out = run(exprs)
    if rc == 0:
        return
    # Find which expressions fail, one by one, for a precise message.
    found = False
    for where, e in exprs:
        rc1, out1 = run([(where, e)])
        if rc1 != 0:
            found = True
            msg = " ".join(line.strip() for line in out1.splitlines() if line.strip() and "Checking" not in line)
            c.fail(where, f"promtool check rules failed: {msg}\n    expr: {e}")
    if not found:
        c.fail("promtool", "check rules failed:\n" + out)


def main(argv):
    args = argv[1:]
    rules_path = None
    if "--rules" in args:
        i = args.index("--rules")
        if i + 1 >= len(args):
            print(__doc__, file=sys.stderr)
            return 2
        rules_path = args[i + 1]
        del args[i:i + 2]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    path = args[0]
    if rules_path is None:
        rules_path = os.path.join(os.path.dirname(os.path.abspath(path)), "cloudquota-rules.yml")

    c = Checker()
    try:
        with open(path, encoding="utf-8") as f:
            dash = json.load(f)
    except (OSError, ValueError) as e:
        print(f"FAIL {path}: cannot read JSON: {e}", file=sys.stderr)
        return 1
    if not isinstance(dash, dict):
        print(f"FAIL {path}: top level is not a JSON object", file=sys.stderr)
        return 1

    known = set(EXPORTER_METRICS)
    try:
        with open(rules_path, encoding="utf-8") as f:
            known |= set(re.findall(r"^\s*-?\s*record:\s*['\"]?([\w:]+)", f.read(), re.M))
    except OSError as e:
        c.fail("rules", f"cannot read {rules_path} for the recorded series names: {e}")

    exprs = []
    check_dashboard(c, dash, known, exprs)
    substituted = [(where, substitute(c, where, e)) for where, e in exprs]

    promtool = shutil.which("promtool")
    if not promtool:
        print("FAIL: promtool not found in PATH", file=sys.stderr)
        return 2
    if substituted:
        promtool_check(c, substituted, promtool)

    if c.problems:
        print(f"FAIL {path}: {len(c.problems)} problem(s)", file=sys.stderr)
        for p in c.problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    n_panels = sum(1 for p in walk_panels(dash.get("panels")) if p.get("type") != "row")
    print(f"OK {path}: {n_panels} panels, {len(exprs)} PromQL expressions pass promtool check rules")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
