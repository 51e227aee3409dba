package collector

import "github.com/prometheus/client_golang/prometheus"

// Namespace prefixes every metric of the exporter.
const Namespace = "cloudquota"

// Descriptors are built once; every scrape emits const metrics on them.
var (
	smhCapacityDesc = prometheus.NewDesc(
		prometheus.BuildFQName(Namespace, "smh", "space_capacity_bytes"),
		"Quota of the Smart Media Hosting tenant space in bytes (capacity); absent when the space has no quota. Values may be cached up to the target's cache_ttl.",
		[]string{"target", "library_id", "space_id"}, nil)
	smhAvailableDesc = prometheus.NewDesc(
		prometheus.BuildFQName(Namespace, "smh", "space_available_bytes"),
		"Space left in the Smart Media Hosting tenant space in bytes (availableSpace); absent when the space has no quota. Upstream updates it with a delay. Values may be cached up to the target's cache_ttl.",
		[]string{"target", "library_id", "space_id"}, nil)
	smhUsedDesc = prometheus.NewDesc(
		prometheus.BuildFQName(Namespace, "smh", "space_used_bytes"),
		"Bytes taken by the files of the Smart Media Hosting tenant space (size). Values may be cached up to the target's cache_ttl.",
		[]string{"target", "library_id", "space_id"}, nil)

	workspaceLimitDesc = prometheus.NewDesc(
		prometheus.BuildFQName(Namespace, "workspace", "quota_limit"),
		"Huawei Cloud Workspace quota of a resource at a site (quota), in the resource's unit. Values may be cached up to the target's cache_ttl.",
		[]string{"target", "project_id", "site_id", "resource", "unit"}, nil)
	workspaceUsedDesc = prometheus.NewDesc(
		prometheus.BuildFQName(Namespace, "workspace", "quota_used"),
		"Huawei Cloud Workspace usage of a resource at a site (used), in the resource's unit. Values may be cached up to the target's cache_ttl.",
		[]string{"target", "project_id", "site_id", "resource", "unit"}, nil)

	ctsLimitDesc = prometheus.NewDesc(
		prometheus.BuildFQName(Namespace, "cts", "quota_limit"),
		"Huawei Cloud Trace Service quota of a resource (quota). Values may be cached up to the target's cache_ttl.",
		[]string{"target", "project_id", "resource"}, nil)
	ctsUsedDesc = prometheus.NewDesc(
		prometheus.BuildFQName(Namespace, "cts", "quota_used"),
		"Huawei Cloud Trace Service usage of a resource (used). Values may be cached up to the target's cache_ttl.",
		[]string{"target", "project_id", "resource"}, nil)

	upDesc = prometheus.NewDesc(
		prometheus.BuildFQName(Namespace, "", "up"),
		"1 when this scrape got a usable answer for the target, else 0.",
		[]string{"target", "service"}, nil)
	collectDurationDesc = prometheus.NewDesc(
		prometheus.BuildFQName(Namespace, "", "collect_duration_seconds"),
		"Time this scrape spent getting the target's data.",
		[]string{"target", "service"}, nil)
	lastSuccessDesc = prometheus.NewDesc(
		prometheus.BuildFQName(Namespace, "", "last_success_timestamp_seconds"),
		"Unix time when upstream last answered well for the target; older than the scrape when data is cached.",
		[]string{"target", "service"}, nil)
	credentialBackoffDesc = prometheus.NewDesc(
		prometheus.BuildFQName(Namespace, "credential", "backoff_seconds"),
		"Seconds left before requests with this credential are sent again after an authentication failure (to avoid locking the key); 0 when it is not backing off.",
		[]string{"credential"}, nil)
)

var allDescs = []*prometheus.Desc{
	smhCapacityDesc, smhAvailableDesc, smhUsedDesc,
	workspaceLimitDesc, workspaceUsedDesc,
	ctsLimitDesc, ctsUsedDesc,
	upDesc, collectDurationDesc, lastSuccessDesc, credentialBackoffDesc,
}
