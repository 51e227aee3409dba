package chartcheck

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Tools, from the environment or PATH:
//
//	HELM       helm v3 (required; the test is skipped without it unless CHARTCHECK_STRICT=1)
//	PROMTOOL   promtool, for the rendered rules (same)
//	EXPORTER   a built cloudquota_exporter, for --config.check of the Secret (optional)
//	KUBE_VERSION  the Kubernetes version that helm renders for (default 1.31.0)
const (
	release   = "cq"
	namespace = "monitoring"
)

var (
	repoRoot = filepath.Join("..", "..")
	chartDir = filepath.Join(repoRoot, "charts", "cloudquota-exporter")
)

func tool(t *testing.T, env, name string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("CHARTCHECK_STRICT") == "1" {
		t.Fatalf("%s not found (set %s or put it in PATH)", name, env)
	}
	t.Skipf("%s not found (set %s or put it in PATH); .ci/chart.sh installs it", name, env)
	return ""
}

// render runs helm template with the given values files and --set flags
// and decodes what it prints.
func render(t *testing.T, name string, args ...string) []Object {
	t.Helper()
	helm := tool(t, "HELM", "helm")
	kube := os.Getenv("KUBE_VERSION")
	if kube == "" {
		kube = "1.31.0"
	}
	cmdArgs := append([]string{"template", release, chartDir, "--namespace", namespace, "--kube-version", kube}, args...)
	cmd := exec.Command(helm, cmdArgs...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(cmdArgs, " "), err, stderr.String())
	}
	objs, err := Decode(name, out)
	if err != nil {
		t.Fatalf("strict decoding of %s:\n%v", name, err)
	}
	return objs
}

// valueSets are the default values and every ci/*-values.yaml.
func valueSets(t *testing.T) map[string][]string {
	files, err := filepath.Glob(filepath.Join(chartDir, "ci", "*-values.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no %s/ci/*-values.yaml (%v)", chartDir, err)
	}
	sets := map[string][]string{"default values": nil}
	for _, f := range files {
		sets[filepath.Base(f)] = []string{"-f", f}
	}
	return sets
}

func find[T any](objs []Object) []*T {
	var out []*T
	for _, o := range objs {
		if v, ok := o.Value.(*T); ok {
			out = append(out, v)
		}
	}
	return out
}

// workloads returns the pod templates of the Deployments and StatefulSets.
func workloads(objs []Object) map[string]corev1.PodTemplateSpec {
	pods := map[string]corev1.PodTemplateSpec{}
	for _, d := range find[appsv1.Deployment](objs) {
		pods["Deployment "+d.Name] = d.Spec.Template
	}
	for _, s := range find[appsv1.StatefulSet](objs) {
		pods["StatefulSet "+s.Name] = s.Spec.Template
	}
	return pods
}

func readRepoFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRenders decodes every value set's objects strictly and checks each
// one's pod, Service, Secret and operator objects.
func TestRenders(t *testing.T) {
	seen := map[string]bool{}
	for name, args := range valueSets(t) {
		t.Run(name, func(t *testing.T) {
			objs := render(t, name, args...)
			for _, o := range objs {
				seen[o.Kind] = true
			}
			checkObjects(t, objs)
			if len(find[corev1.Secret](objs)) == 0 {
				seen["existingSecret"] = true
			}
		})
	}
	// Together the ci values files switch on every optional object.
	for _, want := range []string{"Deployment", "StatefulSet", "Service", "ServiceAccount", "Secret", "existingSecret",
		"ServiceMonitor", "ScrapeConfig", "PrometheusRule", "ConfigMap"} {
		if !seen[want] {
			t.Errorf("no value set renders a %s: add one to %s/ci", want, chartDir)
		}
	}
}

func checkObjects(t *testing.T, objs []Object) {
	t.Helper()
	pods := workloads(objs)
	if len(pods) != 1 {
		t.Fatalf("want exactly one Deployment or StatefulSet, got %d", len(pods))
	}
	secrets := map[string]*corev1.Secret{}
	for _, s := range find[corev1.Secret](objs) {
		secrets[s.Name] = s
	}
	services := find[corev1.Service](objs)
	if len(services) != 1 {
		t.Fatalf("want one Service, got %d", len(services))
	}
	svc := services[0]

	for where, pod := range pods {
		for _, p := range CheckRestricted(where, pod.Spec) {
			t.Error(p)
		}
		for _, p := range CheckProbes(where, pod.Spec) {
			t.Error(p)
		}
		// The Service selects the pods and targets their http port.
		for k, v := range svc.Spec.Selector {
			if pod.Labels[k] != v {
				t.Errorf("%s: Service %s selects %s=%s, which the pods lack", where, svc.Name, k, v)
			}
		}
		if svc.Spec.Ports[0].TargetPort.String() != "http" || pod.Spec.Containers[0].Ports[0].Name != "http" {
			t.Errorf("%s: Service and container ports do not meet on the name http", where)
		}
		// The configuration volume is a Secret; the chart's own comes with a
		// checksum annotation, so that a changed Secret rolls the pods.
		vol := pod.Spec.Volumes[0]
		if vol.Secret == nil {
			t.Fatalf("%s: first volume %q is not a Secret", where, vol.Name)
		}
		if s, ok := secrets[vol.Secret.SecretName]; ok {
			if pod.Annotations["checksum/secret"] == "" {
				t.Errorf("%s: the chart's Secret %s is mounted, but the pods have no checksum/secret annotation", where, s.Name)
			}
			if _, ok := s.Data["cloudquota.yml"]; !ok {
				t.Errorf("Secret %s has no key cloudquota.yml", s.Name)
			}
			configCheck(t, s)
		} else if len(secrets) > 0 {
			t.Errorf("%s: mounts Secret %q, but the chart renders %v", where, vol.Secret.SecretName, secrets)
		}
		args := strings.Join(pod.Spec.Containers[0].Args, " ")
		if !strings.Contains(args, "--config.file=/etc/cloudquota_exporter/cloudquota.yml") {
			t.Errorf("%s: args %q do not name /etc/cloudquota_exporter/cloudquota.yml", where, args)
		}
		mounted := false
		for _, m := range pod.Spec.Containers[0].VolumeMounts {
			if m.Name == vol.Name && m.MountPath == "/etc/cloudquota_exporter" && m.ReadOnly && m.SubPath == "" {
				mounted = true
			}
		}
		if !mounted {
			t.Errorf("%s: volume %s is not mounted read-only (without subPath) at /etc/cloudquota_exporter", where, vol.Name)
		}
	}

	for _, sts := range find[appsv1.StatefulSet](objs) {
		checkSharded(t, objs, sts, svc)
	}
	for _, d := range find[appsv1.Deployment](objs) {
		for _, sc := range find[monitoringv1alpha1.ScrapeConfig](objs) {
			if got := relabelTo(sc, "__address__"); got == nil || got.Replacement == nil ||
				*got.Replacement != svc.Name+"."+namespace+".svc:9784" {
				t.Errorf("ScrapeConfig %s with Deployment %s: want __address__ set to the Service %s", sc.Name, d.Name, svc.Name)
			}
		}
	}
	for _, sm := range find[monitoringv1.ServiceMonitor](objs) {
		if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "http" {
			t.Errorf("ServiceMonitor %s: want one endpoint on port http", sm.Name)
		}
		for k, v := range sm.Spec.Selector.MatchLabels {
			if svc.Labels[k] != v {
				t.Errorf("ServiceMonitor %s selects %s=%s, which Service %s lacks", sm.Name, k, v, svc.Name)
			}
		}
		probes := len(find[monitoringv1alpha1.ScrapeConfig](objs)) > 0
		none := reflect.DeepEqual(sm.Spec.Endpoints[0].Params["targets"], []string{"none"})
		if probes != none {
			t.Errorf("ServiceMonitor %s: params targets=none is %v, ScrapeConfig rendered is %v: they must go together (or every target is polled twice)", sm.Name, none, probes)
		}
	}
	for _, pr := range find[monitoringv1.PrometheusRule](objs) {
		checkRules(t, pr)
	}
	for _, cm := range find[corev1.ConfigMap](objs) {
		checkDashboard(t, cm)
	}
}

func relabelTo(sc *monitoringv1alpha1.ScrapeConfig, target string) *monitoringv1.RelabelConfig {
	var last *monitoringv1.RelabelConfig
	for i, r := range sc.Spec.RelabelConfigs {
		if r.TargetLabel == target {
			last = &sc.Spec.RelabelConfigs[i]
		}
	}
	return last
}

// checkSharded: the StatefulSet's replicas are reachable one by one
// through the headless Service, and the ScrapeConfig spreads the targets
// over exactly that many replicas.
func checkSharded(t *testing.T, objs []Object, sts *appsv1.StatefulSet, svc *corev1.Service) {
	t.Helper()
	if sts.Spec.ServiceName != svc.Name || svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("StatefulSet %s: serviceName %q, want the headless Service %s (clusterIP %q)", sts.Name, sts.Spec.ServiceName, svc.Name, svc.Spec.ClusterIP)
	}
	replicas := int32(1)
	if sts.Spec.Replicas != nil {
		replicas = *sts.Spec.Replicas
	}
	for _, sc := range find[monitoringv1alpha1.ScrapeConfig](objs) {
		if sc.Spec.MetricsPath == nil || *sc.Spec.MetricsPath != "/probe" {
			t.Errorf("ScrapeConfig %s: metricsPath is not /probe", sc.Name)
		}
		if len(sc.Spec.HTTPSDConfigs) != 1 || !strings.HasSuffix(string(sc.Spec.HTTPSDConfigs[0].URL), ":9784/sd") {
			t.Errorf("ScrapeConfig %s: want one httpSDConfig on the exporter's /sd", sc.Name)
		}
		hashmod := relabelTo(sc, "__tmp_replica")
		if hashmod == nil || hashmod.Modulus != int64(replicas) ||
			!strings.EqualFold(hashmod.Action, "hashmod") {
			t.Errorf("ScrapeConfig %s: want hashmod over %d replicas into __tmp_replica, got %+v", sc.Name, replicas, hashmod)
		}
		addr := relabelTo(sc, "__address__")
		want := sts.Name + "-$1." + svc.Name + "." + namespace + ".svc:9784"
		if addr == nil || addr.Replacement == nil || *addr.Replacement != want {
			t.Errorf("ScrapeConfig %s: __address__ must become %s", sc.Name, want)
		}
		if len(addr.SourceLabels) != 1 || addr.SourceLabels[0] != "__tmp_replica" {
			t.Errorf("ScrapeConfig %s: __address__ must come from __tmp_replica", sc.Name)
		}
	}
}

// checkRules: the PrometheusRule is dashboards/cloudquota-rules.yml (the
// same groups, nothing added or lost) and promtool accepts its rules.
func checkRules(t *testing.T, pr *monitoringv1.PrometheusRule) {
	t.Helper()
	rendered, err := json.Marshal(map[string]any{"groups": pr.Spec.Groups})
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	if err := yaml.Unmarshal(rendered, &got); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(readRepoFile(t, "dashboards/cloudquota-rules.yml"), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normalize(got), normalize(want)) {
		g, _ := yaml.Marshal(got)
		w, _ := yaml.Marshal(want)
		t.Errorf("PrometheusRule %s differs from dashboards/cloudquota-rules.yml:\n--- rendered\n%s\n--- file\n%s", pr.Name, g, w)
	}
	promtool := tool(t, "PROMTOOL", "promtool")
	ruleFile := filepath.Join(t.TempDir(), "rendered-rules.yml")
	asYAML, err := yaml.JSONToYAML(rendered)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ruleFile, asYAML, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", ruleFile).CombinedOutput()
	if err != nil {
		t.Errorf("promtool check rules on PrometheusRule %s: %v\n%s", pr.Name, err, out)
	} else {
		t.Logf("promtool check rules (PrometheusRule %s): %s", pr.Name, strings.TrimSpace(string(out)))
	}
}

// normalize drops empty values that the operator's types leave out or add
// (e.g. an empty labels map), so that the comparison is about content.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			e = normalize(e)
			if e == nil || reflect.DeepEqual(e, map[string]any{}) || e == "" {
				continue
			}
			out[k] = e
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	}
	return v
}

// checkDashboard: the ConfigMap carries dashboards/cloudquota.json byte
// for byte, with the label the Grafana sidecar looks for.
func checkDashboard(t *testing.T, cm *corev1.ConfigMap) {
	t.Helper()
	if cm.Labels["grafana_dashboard"] != "1" {
		t.Errorf("ConfigMap %s: no label grafana_dashboard: \"1\" for the Grafana sidecar", cm.Name)
	}
	got, ok := cm.Data["cloudquota.json"]
	if !ok {
		t.Fatalf("ConfigMap %s has no key cloudquota.json (keys %v)", cm.Name, keys(cm.Data))
	}
	if want := string(readRepoFile(t, "dashboards/cloudquota.json")); got != want {
		t.Errorf("ConfigMap %s: cloudquota.json (%d bytes) is not dashboards/cloudquota.json (%d bytes)", cm.Name, len(got), len(want))
	}
	if !json.Valid([]byte(got)) {
		t.Errorf("ConfigMap %s: cloudquota.json is not valid JSON", cm.Name)
	}
}

func keys[V any](m map[string]V) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	sort.Strings(k)
	return k
}

// configCheck writes the Secret's keys to a directory, as the volume
// mount does, and runs the exporter's --config.check on it.
func configCheck(t *testing.T, s *corev1.Secret) {
	t.Helper()
	exporter := os.Getenv("EXPORTER")
	if exporter == "" {
		t.Logf("EXPORTER not set: --config.check of Secret %s skipped", s.Name)
		return
	}
	dir := t.TempDir()
	for k, v := range s.Data {
		if err := os.WriteFile(filepath.Join(dir, k), v, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(exporter, "--config.check", "--config.file="+filepath.Join(dir, "cloudquota.yml")).CombinedOutput()
	if err != nil {
		t.Errorf("--config.check on Secret %s: %v\n%s", s.Name, err, out)
	} else {
		t.Logf("Secret %s: %s", s.Name, strings.TrimSpace(string(out)))
	}
}

// TestChecksumFollowsSecret: changing a secret file or the configuration
// changes the pods' checksum/secret annotation, so helm upgrade rolls them.
func TestChecksumFollowsSecret(t *testing.T) {
	values := filepath.Join(chartDir, "ci", "deployment-monitoring-values.yaml")
	sum := func(objs []Object) string {
		for _, pod := range workloads(objs) {
			return pod.Annotations["checksum/secret"]
		}
		return ""
	}
	base := sum(render(t, "base", "-f", values))
	rotated := sum(render(t, "rotated secret", "-f", values, "--set", "secretFiles.hw-prod\\.sk=rotated"))
	reconfigured := sum(render(t, "changed config", "-f", values, "--set", "config.global.timeout=20s"))
	if base == "" || base == rotated || base == reconfigured {
		t.Errorf("checksum/secret does not follow the Secret: base %q, rotated %q, reconfigured %q", base, rotated, reconfigured)
	}
}

// TestFailures: values that cannot work are refused at render time.
func TestFailures(t *testing.T) {
	helm := tool(t, "HELM", "helm")
	for name, args := range map[string][]string{
		"unknown kind":                  {"--set", "kind=DaemonSet"},
		"cloudquota.yml in secretFiles": {"--set", "secretFiles.cloudquota\\.yml=x"},
	} {
		cmd := exec.Command(helm, append([]string{"template", release, chartDir, "--kube-version", "1.31.0"}, args...)...)
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("%s: helm template succeeded, want an error\n%s", name, out)
		}
	}
}

// TestExample: the plain manifests in examples/kubernetes decode strictly
// and meet the same Pod Security checks as the chart.
func TestExample(t *testing.T) {
	path := filepath.Join("examples", "kubernetes", "cloudquota-exporter.yaml")
	objs, err := Decode(path, readRepoFile(t, path))
	if err != nil {
		t.Fatalf("strict decoding:\n%v", err)
	}
	pods := workloads(objs)
	if len(pods) == 0 {
		t.Fatal("no Deployment or StatefulSet")
	}
	for where, pod := range pods {
		for _, p := range CheckRestricted(path+": "+where, pod.Spec) {
			t.Error(p)
		}
		for _, p := range CheckProbes(path+": "+where, pod.Spec) {
			t.Error(p)
		}
	}
}

// TestCheckRestrictedCatches: the Pod Security check itself finds what
// the admission controller would refuse.
func TestCheckRestrictedCatches(t *testing.T) {
	yes, no, root := true, false, int64(0)
	pod := corev1.PodSpec{
		HostNetwork: true,
		Volumes:     []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}},
		Containers: []corev1.Container{{
			Name: "c",
			SecurityContext: &corev1.SecurityContext{
				Privileged:               &yes,
				AllowPrivilegeEscalation: &yes,
				RunAsNonRoot:             &no,
				RunAsUser:                &root,
				ReadOnlyRootFilesystem:   &no,
				Capabilities:             &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN"}},
			},
		}},
	}
	got := strings.Join(CheckRestricted("pod", pod), "\n")
	for _, want := range []string{"hostNetwork", `volume "host"`, "privileged", "allowPrivilegeEscalation", "runAsNonRoot is false",
		"runAsUser is 0", "seccompProfile", "SYS_ADMIN", "drop must contain ALL", "readOnlyRootFilesystem"} {
		if !strings.Contains(got, want) {
			t.Errorf("CheckRestricted missed %q; it said:\n%s", want, got)
		}
	}
}
