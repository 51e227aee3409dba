// Package demo runs the exporter's --demo mode: simulated clouds on
// loopback with built-in quotas, and the configuration that polls them.
package demo

import (
	"fmt"
	"time"

	"github.com/cloudquota/cloudquota_exporter/config"
	"github.com/cloudquota/cloudquota_exporter/internal/simcloud"
)

const gib = 1 << 30

// Clouds is the running demo.
type Clouds struct {
	*simcloud.Cloud
}

// Start serves the demo clouds on a free loopback port. Usage drifts along
// a sine wave of period driftPeriod (0 keeps it still).
func Start(driftPeriod time.Duration) (*Clouds, error) {
	cloud := NewCloud()
	cloud.DriftPeriod = driftPeriod
	if err := cloud.Start(); err != nil {
		return nil, fmt.Errorf("starting the simulated clouds: %w", err)
	}
	return &Clouds{Cloud: cloud}, nil
}

// Config returns the built-in configuration that polls these clouds.
func (c *Clouds) Config() (*config.Config, error) {
	return config.Parse([]byte(ConfigYAML(c.URL)), "<built-in demo configuration>", false)
}

// The demo's credentials; they open nothing but the simulated clouds.
const (
	libraryProd   = "smhdemoprod"
	libraryBackup = "smhdemobackup"
	accessKey     = "DEMOACCESSKEY0000001"
	tempAccessKey = "DEMOTEMPACCESSKEY001"
	projectProd   = "0a1b2c3d4e5f"
	projectDev    = "9f8e7d6c5b4a"
	// demoRegion names projectProd in the simulated IAM: desktops-found
	// finds it by this name.
	demoRegion = "cn-north-4"
)

// NewCloud returns the simulated clouds' built-in data: two SMH libraries
// and two Huawei projects, with unlimited, near-full and fully used quotas
// among them so that every dashboard panel and alert has something to show.
func NewCloud() *simcloud.Cloud {
	p := simcloud.Ptr
	return &simcloud.Cloud{
		TokenLifetime: 2 * time.Hour,
		// The backup library's totals send every field: media-all exports
		// them (library_usage).
		SMH: simcloud.SMHSettings{Libraries: map[string]*simcloud.SMHLibrary{
			libraryBackup: {Totals: &simcloud.LibraryTotals{Capacity: p(1024 * gib), Allocated: p(600 * gib)}},
		}},
		// The account's projects, which IAM finds by region name.
		Huawei: simcloud.HuaweiOptions{IAMProjects: []simcloud.IAMProject{
			{ID: projectProd, Name: demoRegion},
			{ID: projectDev, Name: "demo-dev-1"},
		}},
		Libraries: map[string]*simcloud.Library{
			libraryProd: {Secret: "demo-library-secret-prod", Spaces: []*simcloud.Space{
				{ID: "space-media", Capacity: p(100 * gib), Used: 62 * gib, Swing: 0.05},
				{ID: "space-archive", Capacity: p(50 * gib), Used: 46*gib + gib/2, Swing: 0.02}, // ~93 % full
				{ID: "space-scratch", Capacity: nil, Used: 12 * gib, Swing: 0.1},                // no quota
			}},
			libraryBackup: {Secret: "demo-library-secret-backup", Spaces: []*simcloud.Space{
				{ID: "space-nightly", Capacity: p(200 * gib), Used: 80 * gib, Swing: 0.1},
				{ID: "space-weekly", Capacity: p(400 * gib), Used: 150 * gib, Swing: 0.05},
			}},
		},
		Keys: map[string]simcloud.Key{
			accessKey:     {SecretKey: "demo-secret-key-0000000000000001"},
			tempAccessKey: {SecretKey: "demo-temp-secret-key-00000000001", SecurityToken: "demo-security-token"},
		},
		Projects: map[string]*simcloud.Project{
			projectProd: {
				DefaultSite: "site-central",
				Sites: map[string][]*simcloud.Resource{
					"site-central": workspaceResources(0.45),
					"site-edge":    workspaceResources(0.7),
				},
				CTS: []*simcloud.Resource{
					{Type: "system_tracker", Quota: p(1), Used: 1},
					{Type: "data_tracker", Quota: p(100), Used: 9, Swing: 0.02},
				},
			},
			projectDev: {
				DefaultSite: "site-dev",
				Sites: map[string][]*simcloud.Resource{
					"site-dev": workspaceResources(0.2),
				},
				CTS: []*simcloud.Resource{
					{Type: "system_tracker", Quota: p(1), Used: 1},
					{Type: "data_tracker", Quota: p(100), Used: 92, Swing: 0.02}, // near full
				},
			},
		},
	}
}

// workspaceResources is one site's quota list, filled to about fill.
func workspaceResources(fill float64) []*simcloud.Resource {
	p := simcloud.Ptr
	used := func(limit uint64) uint64 { return uint64(float64(limit) * fill) }
	return []*simcloud.Resource{
		{Type: "general_instances", Unit: "count", Quota: p(100), Used: used(100), Swing: 0.1},
		{Type: "Memory", Unit: "GB", Quota: p(4096), Used: 3900, Swing: 0.02}, // ~95 % full
		{Type: "cores", Unit: "count", Quota: p(400), Used: used(400), Swing: 0.1},
		{Type: "Cores", Unit: "count", Quota: p(400), Used: used(400), Swing: 0.1},
		{Type: "volumes", Unit: "count", Quota: p(200), Used: used(200), Swing: 0.05},
		{Type: "volume_gigabytes", Unit: "GB", Quota: p(20000), Used: used(20000), Swing: 0.05},
		{Type: "gpu_instances", Unit: "count", Quota: p(0), Used: 0},
		{Type: "deh", Unit: "count", Quota: nil, Used: 2}, // no quota
		{Type: "users", Unit: "count", Quota: p(500), Used: used(500), Swing: 0.05},
		{Type: "policy_groups", Unit: "count", Quota: p(50), Used: 3},
	}
}

// ConfigYAML is the built-in configuration, pointing every target at
// baseURL. It doubles as an example of every service and credential kind.
func ConfigYAML(baseURL string) string {
	return fmt.Sprintf(`global:
  timeout: 5s
credentials:
  - name: media-prod
    type: tencent_smh
    library_id: %[2]s
    library_secret: demo-library-secret-prod
    grant: admin
    token_period: 2h
  - name: media-backup
    type: tencent_smh
    library_id: %[3]s
    library_secret: demo-library-secret-backup
    grant: admin                # lists every space (media-all)
  - name: hw-prod
    type: huaweicloud
    access_key: %[4]s
    secret_key: demo-secret-key-0000000000000001
  - name: hw-dev-temporary
    type: huaweicloud
    access_key: %[5]s
    secret_key: demo-temp-secret-key-00000000001
    security_token: demo-security-token
targets:
  - name: media-prod
    service: smh
    credentials: media-prod
    space_ids: [space-media, space-archive, space-scratch]
    endpoint: %[1]s
  - name: media-backup
    service: smh
    credentials: media-backup
    space_ids: [space-nightly, space-weekly]
    endpoint: %[1]s
  - name: desktops-prod
    service: workspace
    credentials: hw-prod
    project_id: %[6]s
    site_ids: [site-central, site-edge]
    endpoint: %[1]s
  - name: desktops-dev
    service: workspace
    credentials: hw-dev-temporary
    project_id: %[7]s
    endpoint: %[1]s
  - name: audit-prod
    service: cts
    credentials: hw-prod
    project_id: %[6]s
    endpoint: %[1]s
  - name: audit-dev
    service: cts
    credentials: hw-dev-temporary
    project_id: %[7]s
    endpoint: %[1]s
    cache_ttl: 30s
  - name: media-all
    service: smh
    credentials: media-backup
    library_usage: true         # no space_ids: every space of the library
    endpoint: %[1]s
  - name: desktops-found
    service: workspace
    credentials: hw-prod
    region: %[8]s            # no project_id: looked up in IAM by region name
    iam_endpoint: %[1]s
    endpoint: %[1]s
  - name: desktops-all-sites
    service: workspace
    credentials: hw-prod
    project_id: %[6]s
    discover_sites: true        # every site of the project
    endpoint: %[1]s
`, baseURL, libraryProd, libraryBackup, accessKey, tempAccessKey, projectProd, projectDev, demoRegion)
}
