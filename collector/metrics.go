package collector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// namespace prefixes every metric of the exporter.
const namespace = "cloudquota"

// The health descriptors every target has, whatever its service; services
// hold their own quota descriptors. Descriptors are built once; every
// scrape emits const metrics on them.
var (
	upDesc = newFamily(
		prometheus.BuildFQName(namespace, "", "up"),
		"1 when this scrape got a usable answer for the target, else 0.",
		[]string{"target", "service"}, nil)
	collectDurationDesc = newFamily(
		prometheus.BuildFQName(namespace, "", "collect_duration_seconds"),
		"Time this scrape spent getting the target's data.",
		[]string{"target", "service"}, nil)
	lastSuccessDesc = newFamily(
		prometheus.BuildFQName(namespace, "", "last_success_timestamp_seconds"),
		"Unix time when upstream last answered well for the target; older than the scrape when data is cached.",
		[]string{"target", "service"}, nil)
	clockOffsetDesc = newFamily(
		prometheus.BuildFQName(namespace, "upstream", "clock_offset_seconds"),
		"Upstream's Date header minus the local clock, from the target's last answer that had one (whole seconds). Huawei refuses signatures more than 15 minutes off.",
		[]string{"target", "service"}, nil)
	credentialBackoffDesc = newFamily(
		prometheus.BuildFQName(namespace, "credential", "backoff_seconds"),
		"Seconds left before requests with this credential are sent again after an authentication failure (to avoid locking the key); 0 when it is not backing off.",
		[]string{"credential"}, nil)
)

// NewRequestCounter registers cloudquota_api_requests_total on reg and
// returns the upstream.Observer that counts into it.
func NewRequestCounter(reg prometheus.Registerer) upstream.Observer {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace,
		Name:      "api_requests_total",
		Help:      "Requests sent to the clouds' APIs, by service, operation and HTTP status code (\"error\" when no response came).",
	}, []string{"service", "operation", "code"})
	reg.MustRegister(requests)
	return upstream.ObserverFunc(func(service, operation, code string) {
		requests.WithLabelValues(service, operation, code).Inc()
	})
}
