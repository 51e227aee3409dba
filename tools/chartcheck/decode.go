// Package chartcheck checks the Helm chart charts/cloudquota-exporter and
// the Kubernetes example examples/kubernetes/ (run by .ci/chart.sh):
//
//   - every object that helm template renders, for the default values and
//     for each charts/cloudquota-exporter/ci/*-values.yaml, decodes
//     strictly (unknown or duplicate fields are errors) into the k8s.io/api
//     and prometheus-operator types;
//   - the pods meet the restricted Pod Security Standard, with a read-only
//     root file system and the probes on /-/healthy and /-/ready;
//   - the PrometheusRule carries dashboards/cloudquota-rules.yml unchanged
//     and passes promtool check rules; the dashboard ConfigMap carries
//     dashboards/cloudquota.json byte for byte with the sidecar label;
//   - the sharded layout fits together (StatefulSet, headless Service,
//     ScrapeConfig hashmod over the replica count), the Secret's checksum
//     annotation follows its content, and the configuration in the Secret
//     passes the exporter's --config.check.
//
// It is its own Go module so that the exporter's go.mod stays free of the
// Kubernetes and operator dependencies.
package chartcheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Object is one decoded manifest.
type Object struct {
	Source string // file or render name, and the document's position
	Kind   string
	Name   string
	Value  any // *appsv1.Deployment, *corev1.Secret, ...
}

// kinds maps apiVersion/kind to a new value of its Go type. A kind that is
// not listed is an error: the chart must render nothing unchecked.
var kinds = map[string]func() any{
	"v1/Secret":           func() any { return &corev1.Secret{} },
	"v1/ConfigMap":        func() any { return &corev1.ConfigMap{} },
	"v1/Service":          func() any { return &corev1.Service{} },
	"v1/ServiceAccount":   func() any { return &corev1.ServiceAccount{} },
	"apps/v1/Deployment":  func() any { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet": func() any { return &appsv1.StatefulSet{} },
	"monitoring.coreos.com/v1/ServiceMonitor": func() any { return &monitoringv1.ServiceMonitor{} },
	"monitoring.coreos.com/v1/PrometheusRule": func() any { return &monitoringv1.PrometheusRule{} },
	"monitoring.coreos.com/v1alpha1/ScrapeConfig": func() any {
		return &monitoringv1alpha1.ScrapeConfig{}
	},
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// Decode splits a multi-document YAML stream and decodes every document
// strictly into its Kubernetes or prometheus-operator type: duplicate
// keys, unknown fields and fields whose case differs from the API's are
// errors, as with kubectl apply --validate=strict.
func Decode(source string, stream []byte) ([]Object, error) {
	var objs []Object
	var errs []string
	for i, doc := range docSeparator.Split(string(stream), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		where := fmt.Sprintf("%s, document %d", source, i)
		if m := regexp.MustCompile(`(?m)^# Source: (.+)$`).FindStringSubmatch(doc); m != nil {
			where = fmt.Sprintf("%s (%s)", source, m[1])
		}
		js, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: not strict YAML: %v", where, err))
			continue
		}
		var tm metav1.TypeMeta
		var meta struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		if err := json.Unmarshal(js, &tm); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", where, err))
			continue
		}
		_ = json.Unmarshal(js, &meta)
		key := tm.APIVersion + "/" + tm.Kind
		newValue, ok := kinds[key]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s: %s is not a kind this check knows", where, key))
			continue
		}
		v := newValue()
		strict, err := sigsjson.UnmarshalStrict(js, v, sigsjson.DisallowUnknownFields)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %s %q: %v", where, tm.Kind, meta.Metadata.Name, err))
			continue
		}
		for _, e := range strict {
			errs = append(errs, fmt.Sprintf("%s: %s %q: %v", where, tm.Kind, meta.Metadata.Name, e))
		}
		if meta.Metadata.Name == "" {
			errs = append(errs, fmt.Sprintf("%s: %s without metadata.name", where, tm.Kind))
		}
		objs = append(objs, Object{Source: where, Kind: tm.Kind, Name: meta.Metadata.Name, Value: v})
	}
	if len(errs) > 0 {
		return objs, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return objs, nil
}

func stripComments(doc string) string {
	var b bytes.Buffer
	for _, line := range strings.Split(doc, "\n") {
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}
