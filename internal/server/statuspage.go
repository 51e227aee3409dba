package server

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/cloudquota/cloudquota_exporter/collector"
)

// statusPage is the landing page: exporter-toolkit's page with a table of
// every target's last scrape, so that an operator sees at a glance which
// target is down and why.
type statusPage struct {
	exporter    *collector.Exporter
	name        string
	metricsPath string
	logger      log.Logger
	now         func() time.Time
}

func newStatusPage(e *collector.Exporter, name, metricsPath string, logger log.Logger) *statusPage {
	return &statusPage{exporter: e, name: name, metricsPath: metricsPath, logger: logger, now: time.Now}
}

// statusTable is html/template so that upstream text (error messages,
// names) is escaped.
var statusTable = template.Must(template.New("status").Funcs(template.FuncMap{
	"ago": func(now, t time.Time) string { return now.Sub(t).Round(time.Second).String() + " ago" },
	"utc": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 MST") },
	"ms":  func(d time.Duration) string { return d.Round(time.Millisecond).String() },
}).Parse(`<h2>Targets</h2>
<p class="summary">{{.Summary}}</p>
<table class="targets">
<tr><th>Target</th><th>Service</th><th>Keys from</th><th>Last result</th><th>When</th><th>Took</th><th>Last success</th><th>Last error</th></tr>
{{- range .Targets}}
<tr>
<td><a href="probe?target={{.Name}}">{{.Name}}</a></td>
<td>{{.Service}}</td>
<td>{{.CredentialSource}}{{if not .CredentialExpiry.IsZero}} (expire {{utc .CredentialExpiry}}){{end}}</td>
{{- if not .Scraped}}
<td>not scraped yet</td><td></td><td></td>
{{- else if .Up}}
<td class="up">up{{if .Cached}} <span class="note">(cached answer)</span>{{end}}</td><td>{{utc .At}} ({{ago $.Now .At}})</td><td>{{ms .Duration}}</td>
{{- else}}
<td class="down">down{{if .HeldBack}} <span class="note">(held back: nothing sent upstream)</span>{{end}}</td><td>{{utc .At}} ({{ago $.Now .At}})</td><td>{{ms .Duration}}</td>
{{- end}}
<td>{{if .LastSuccess.IsZero}}never{{else}}{{utc .LastSuccess}}{{end}}</td>
<td class="error">{{.Error}}</td>
</tr>
{{- else}}
<tr><td colspan="8">No targets are configured.</td></tr>
{{- end}}
</table>`))

const statusCSS = `
table.targets { border-collapse: collapse; margin-top: 0.5em; }
table.targets th, table.targets td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
table.targets td.up { color: #1a7f37; font-weight: bold; }
table.targets td.down { color: #cf222e; font-weight: bold; }
table.targets td.error { font-family: monospace; max-width: 50em; word-break: break-word; }
table.targets span.note { font-weight: normal; color: #57606a; }
p.summary { font-weight: bold; }
`

// ServeHTTP renders the page afresh: target states change with every scrape.
func (p *statusPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	targets := p.exporter.Status()
	var table bytes.Buffer
	err := statusTable.Execute(&table, struct {
		Now     time.Time
		Summary string
		Targets []collector.TargetStatus
	}{p.now(), summary(targets), downFirst(targets)})
	if err != nil {
		level.Error(p.logger).Log("msg", "Cannot render the status page", "err", err)
		http.Error(w, "cannot render the status page", http.StatusInternalServerError)
		return
	}
	page, err := web.NewLandingPage(web.LandingConfig{
		Name:        p.name,
		Description: "Prometheus exporter for cloud quotas: Tencent Cloud SMH, Huawei Cloud Workspace and Huawei Cloud Trace Service",
		Version:     version.Info(),
		Form: web.LandingForm{
			Action: "/probe",
			Inputs: []web.LandingFormInput{{Label: "Target", Type: "text", Name: "target", Placeholder: "configured target name"}},
		},
		Links: []web.LandingLinks{
			{Address: p.metricsPath, Text: "Metrics", Description: "the exporter's own metrics and every target, polled now"},
			{Address: "/-/healthy", Text: "Health"},
		},
		ExtraHTML: table.String(),
		ExtraCSS:  statusCSS,
		Profiling: "false",
	})
	if err != nil {
		level.Error(p.logger).Log("msg", "Cannot render the status page", "err", err)
		http.Error(w, "cannot render the status page", http.StatusInternalServerError)
		return
	}
	page.ServeHTTP(w, r)
}

// summary is the status page's first line: how many targets are down.
func summary(targets []collector.TargetStatus) string {
	down, unscraped := 0, 0
	for _, t := range targets {
		switch {
		case !t.Scraped:
			unscraped++
		case !t.Up:
			down++
		}
	}
	s := fmt.Sprintf("%d of %d targets down", down, len(targets))
	if len(targets) == 1 {
		s = fmt.Sprintf("%d of 1 target down", down)
	}
	if unscraped > 0 {
		s += fmt.Sprintf(", %d not scraped yet", unscraped)
	}
	return s
}

// downFirst orders targets down, then not scraped yet, then up, each in
// configuration order: what needs attention comes first.
func downFirst(targets []collector.TargetStatus) []collector.TargetStatus {
	rank := func(t collector.TargetStatus) int {
		switch {
		case t.Scraped && !t.Up:
			return 0
		case !t.Scraped:
			return 1
		}
		return 2
	}
	out := slices.Clone(targets)
	slices.SortStableFunc(out, func(a, b collector.TargetStatus) int { return rank(a) - rank(b) })
	return out
}
