package collector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// NewRequestCounter registers cloudquota_api_requests_total on reg and
// returns the upstream.Observer that counts into it.
func NewRequestCounter(reg prometheus.Registerer) upstream.Observer {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace,
		Name:      "api_requests_total",
		Help:      "Requests sent to the clouds' APIs, by service, operation and HTTP status code (\"error\" when no response came).",
	}, []string{"service", "operation", "code"})
	reg.MustRegister(requests)
	return upstream.ObserverFunc(func(service, operation, code string) {
		requests.WithLabelValues(service, operation, code).Inc()
	})
}
