#!/usr/bin/env python3
"""Validate the cloudquota Grafana dashboard.

Usage: python3 dashboards/check_dashboard.py dashboards/cloudquota.json [--rules FILE]

Checks:
  * the file is JSON with uid, title, tags, a schemaVersion and no "id";
  * variables datasource (type datasource, query prometheus) and the query
    variables job, instance, service, target, resource, project_id exist,
    multi-value with "All", each label_values() of the series listed in
    QUERY_VARS and filtered by the variables before it; job and instance have
    no catch-all allValue (so that `up{job=~"$job"}` stays on the exporter's
    jobs), resource and project_id have allValue ".*" (SMH series lack the
    labels and must still pass "All");
  * the panels are grouped in rows: every panel but text panels comes after a
    row, rows have titles, gridPos fits 24 columns and no two panels overlap;
  * every panel (rows excepted; panels nested in rows are checked) has a
    title and a description; text panels have content and no queries; every
    other panel has fieldConfig.defaults.unit, a datasource
    {"type": "prometheus", "uid": "${datasource}"} on the panel and on each of
    its queries, and at least one query;
  * every rate()/irate()/increase() uses the range [$__rate_interval];
  * every cloudquota metric or recorded series a query names is exported by
    cloudquota_exporter or recorded in the rules file (default:
    cloudquota-rules.yml next to the dashboard), and every selector of one
    filters on each dashboard variable whose label the series has
    (`job=~"$job"`, `instance=~"$instance"`, ...: SERIES_VARS);
  * units: a query that reads SMH byte metrics shows them in "bytes" (the
    query's column or series, through overrides or the panel default) and
    mixes no quota of another unit into them; a query of the usage ratio
    alone shows "percentunit";
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
# Query variables: the series their label_values() may read, and the
# variables (before them in the list) whose matchers they must carry.
QUERY_VARS = {
    "job": ({"cloudquota_up", "cloudquota_exporter_build_info"}, ()),
    "instance": ({"cloudquota_up", "cloudquota_exporter_build_info"}, ("job",)),
    "service": ({"cloudquota_up"}, ("job", "instance")),
    "target": ({"cloudquota_up"}, ("job", "instance", "service")),
    "resource": ({"cloudquota_workspace_quota_used", "cloudquota_cts_quota_used"}, ("job", "instance", "target")),
    "project_id": ({"cloudquota_workspace_quota_used", "cloudquota_cts_quota_used"}, ("job", "instance", "target")),
}
REQUIRED_QUERY_VARS = tuple(QUERY_VARS)
# Variables that must not match every value of their label with "All".
NO_CATCH_ALL = ("job", "instance")
# Variables whose "All" must also match series without the label.
ALL_MATCHES_EMPTY = ("resource", "project_id")

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
    # CONTRACT (v2)
    "cloudquota_smh_library_used_bytes",
    "cloudquota_smh_library_capacity_bytes",
    "cloudquota_smh_library_available_bytes",
    "cloudquota_smh_library_allocated_bytes",
    "cloudquota_credential_expiry_timestamp_seconds",
    "cloudquota_upstream_clock_offset_seconds",
}

# The dashboard variables each series must be filtered by: those of its
# labels that are variables (job and instance are on every scraped series).
_QUOTA = ("job", "instance", "service", "target", "resource", "project_id")
_TARGET = ("job", "instance", "service", "target")
_SMH = ("job", "instance", "target")
_HUAWEI = ("job", "instance", "target", "resource", "project_id")
_EXPORTER = ("job", "instance")
SERIES_VARS = {
    "cloudquota_smh_space_capacity_bytes": _SMH,
    "cloudquota_smh_space_available_bytes": _SMH,
    "cloudquota_smh_space_used_bytes": _SMH,
    "cloudquota_smh_library_used_bytes": _SMH,
    "cloudquota_smh_library_capacity_bytes": _SMH,
    "cloudquota_smh_library_available_bytes": _SMH,
    "cloudquota_smh_library_allocated_bytes": _SMH,
    "cloudquota_workspace_quota_limit": _HUAWEI,
    "cloudquota_workspace_quota_used": _HUAWEI,
    "cloudquota_cts_quota_limit": _HUAWEI,
    "cloudquota_cts_quota_used": _HUAWEI,
    "cloudquota_up": _TARGET,
    "cloudquota_collect_duration_seconds": _TARGET,
    "cloudquota_last_success_timestamp_seconds": _TARGET,
    "cloudquota_upstream_clock_offset_seconds": _TARGET,
    "cloudquota_api_requests_total": ("job", "instance", "service"),
    "cloudquota_exporter_build_info": _EXPORTER,
    "cloudquota_exporter_config_last_reload_successful": _EXPORTER,
    "cloudquota_exporter_config_last_reload_success_timestamp_seconds": _EXPORTER,
    "cloudquota_credential_backoff_seconds": _EXPORTER,
    "cloudquota_credential_expiry_timestamp_seconds": _EXPORTER,
    # recorded in cloudquota-rules.yml
    "cloudquota:usage:ratio": _QUOTA,
    "cloudquota:usage_ratio:deriv": _QUOTA,
    "cloudquota:usage_ratio:seconds_until_full": _QUOTA,
    "cloudquota:api_requests:rate": ("job", "instance", "service"),
    "cloudquota:exporter:up": _EXPORTER,
}
BYTE_METRIC_RE = re.compile(r"^cloudquota_smh_\w+_bytes$")
OTHER_UNIT_QUOTA_RE = re.compile(r"^cloudquota_(workspace|cts)_quota_\w+$")
BYTE_UNITS = ("bytes", "decbytes")

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


def selectors(expr):
    """(name, matchers text or None) of every cloudquota series named in expr."""
    code = strip_strings(expr)
    out = []
    for m in METRIC_RE.finditer(code):
        j = m.end()
        while j < len(code) and code[j] in " \t\n":
            j += 1
        matchers = None
        if j < len(code) and code[j] == "{":
            k = code.find("}", j)
            matchers = expr[j + 1:k] if k >= 0 else ""
        out.append((m.group(0), matchers))
    return out


def var_matcher_re(var):
    return re.compile(r'(?:^|,)\s*' + var + r'\s*=~\s*"\$(?:' + var + r'|\{' + var + r'(?::\w+)?\})"\s*(?=,|$)')


def check_series_filters(c, where, expr, variables):
    for name, matchers in selectors(expr):
        want = SERIES_VARS.get(name)
        if want is None:
            c.fail(where, f"{name}: no label set known for it in check_dashboard.py SERIES_VARS")
            continue
        missing = [v for v in want if v in variables and not var_matcher_re(v).search(matchers or "")]
        if missing:
            c.fail(where, f"{name} is not filtered by " + ", ".join(f'{v}=~"${v}"' for v in missing))


def query_unit(panel, ref, single):
    """The unit Grafana shows the values of query ref in (None if unset)."""
    fc = panel.get("fieldConfig") or {}
    names = {f"Value #{ref}"} | ({"Value"} if single else set())
    for t in panel.get("transformations") or []:
        ren = (t.get("options") or {}).get("renameByName") or {}
        names |= {ren[n] for n in list(names) if n in ren}
    unit = (fc.get("defaults") or {}).get("unit")
    for o in fc.get("overrides") or []:
        m = o.get("matcher") or {}
        if (m.get("id") == "byFrameRefID" and m.get("options") == ref) or \
           (m.get("id") == "byName" and m.get("options") in names):
            for prop in o.get("properties") or []:
                if prop.get("id") == "unit":
                    unit = prop.get("value")
    return unit


def check_units(c, where, panel, target, single):
    names = {n for n, _ in selectors(target.get("expr") or "")}
    ref = target.get("refId")
    unit = query_unit(panel, ref, single)
    byte_metrics = sorted(n for n in names if BYTE_METRIC_RE.match(n))
    if byte_metrics:
        other = sorted(n for n in names if OTHER_UNIT_QUOTA_RE.match(n))
        if other:
            c.fail(where, f"mixes SMH bytes ({', '.join(byte_metrics)}) with quotas in other units ({', '.join(other)})")
        if unit not in BYTE_UNITS:
            c.fail(where, f"SMH bytes ({', '.join(byte_metrics)}) shown in unit {unit!r}, want one of {BYTE_UNITS}")
    if names == {"cloudquota:usage:ratio"} and unit != "percentunit":
        c.fail(where, f"usage ratio shown in unit {unit!r}, want 'percentunit'")


def check_layout(c, panels):
    """Rows group the panels; gridPos within 24 columns, no overlaps."""
    rows = [p for p in panels if p.get("type") == "row"]
    if len(rows) < 2:
        c.fail("layout", f"{len(rows)} row(s): group the panels in rows")
    seen_row = False
    cells = {}
    for p in panels:
        where = f"panel {p.get('id')} {p.get('title')!r}"
        if p.get("type") == "row":
            seen_row = True
            if not p.get("title"):
                c.fail(where, "row without a title")
            for q in p.get("panels") or []:
                if not p.get("collapsed"):
                    c.fail(where, "an expanded row holds panels (Grafana expects them after the row)")
                    break
        elif p.get("type") != "text" and not seen_row:
            c.fail(where, "comes before the first row")
        g = p.get("gridPos") or {}
        try:
            x, y, w, h = int(g["x"]), int(g["y"]), int(g["w"]), int(g["h"])
        except (KeyError, TypeError, ValueError):
            c.fail(where, "missing or incomplete gridPos")
            continue
        if x < 0 or w < 1 or x + w > 24 or h < 1:
            c.fail(where, f"gridPos {g} does not fit 24 columns")
            continue
        for cx in range(x, x + w):
            for cy in range(y, y + h):
                if (cx, cy) in cells:
                    c.fail(where, f"overlaps panel {cells[(cx, cy)]} at x={cx}, y={cy}")
                    break
                cells[(cx, cy)] = p.get("id")
            else:
                continue
            break


def selector_metrics(c, where, selector, known):
    """The series names a label_values() selector reads."""
    sel = strip_strings(selector).strip()
    m = re.match(r"([A-Za-z_:][\w:]*)\s*(\{|$)", sel)
    if m:
        return {m.group(1)}
    m = re.search(r'__name__\s*=~\s*"([^"]*)"', selector)
    if m and sel.startswith("{"):
        try:
            rx = re.compile(m.group(1))
        except re.error as e:
            c.fail(where, f"bad __name__ regex: {e}")
            return set()
        names = {k for k in known if rx.fullmatch(k)}
        if not names:
            c.fail(where, f"__name__ regex {m.group(1)!r} matches no known series")
        return names
    c.fail(where, f"selector {selector!r} names no series")
    return set()


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
        all_value = v.get("allValue")
        if name in NO_CATCH_ALL and all_value not in (None, ""):
            c.fail(where, f"allValue {all_value!r}: \"All\" must mean the listed values only (no allValue)")
        if name in ALL_MATCHES_EMPTY and all_value != ".*":
            c.fail(where, 'allValue must be ".*" so that series without the label pass "All"')
        q = v.get("query")
        q = q.get("query", "") if isinstance(q, dict) else (q or "")
        m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", q, re.S)
        if not m or m.group(2) != name:
            c.fail(where, f"query must be label_values(SELECTOR, {name}), got {q!r}")
            continue
        allowed, chain = QUERY_VARS[name]
        got = selector_metrics(c, where, m.group(1), known)
        if got - allowed:
            c.fail(where, f"reads {sorted(got - allowed)}, want only {sorted(allowed)}")
        selector = m.group(1)
        inner = selector[selector.index("{") + 1:selector.rindex("}")] if "{" in selector and "}" in selector else ""
        for prev in chain:
            if not var_matcher_re(prev).search(inner):
                c.fail(where, f'selector is not filtered by {prev}=~"${prev}"')
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
    check_layout(c, dash.get("panels") or [])
    ids = set()
    for p in panels:
        where = f"panel {p.get('id')} {p.get('title')!r}"
        if p.get("id") in ids:
            c.fail(where, "duplicate panel id")
        ids.add(p.get("id"))
        if p.get("type") == "row":
            continue
        if not p.get("title"):
            c.fail(where, "missing title")
        if not p.get("description"):
            c.fail(where, "missing description")
        if p.get("type") == "text":
            if not (p.get("options") or {}).get("content", "").strip():
                c.fail(where, "text panel without content")
            if p.get("targets"):
                c.fail(where, "text panel with queries")
            continue
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
            check_series_filters(c, twhere, expr, variables)
            check_units(c, twhere, p, t, len(targets) == 1)
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
