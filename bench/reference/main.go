// Command reference is the floor that bench/scale measures the exporter
// against: a minimal client, standard library only, that makes the same
// upstream requests as the exporter for one scrape (the SMH token once per
// credential, then usage batches of 50 space ids; Huawei Workspace
// quotas/detail per site and CTS quotas, each signed with SDK-HMAC-SHA256),
// with the same bound on requests in flight, decodes each answer into a
// plain struct and writes the same samples as Prometheus text.
//
// It deliberately has none of what the exporter adds on top (caching,
// back-off, redaction, tracing, validation, client_golang): what it costs
// is what the upstream requests and the output cost by themselves, so the
// exporter's CPU divided by its CPU is the exporter's overhead.
//
//	reference --web.listen-address=127.0.0.1:9999 --config.file=ref.json --scrape.concurrency=64
//
// It serves /metrics (one scrape of every target per request, gzip when
// asked) and /-/ready. The configuration is JSON (see config); bench/scale
// writes it from the same simulated fleet as the exporter's YAML.
package main

import (
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// config is the reference client's configuration file.
type config struct {
	// Credentials by name: type "tencent_smh" (library_id,
	// library_secret) or "huaweicloud" (access_key, secret_key).
	Credentials map[string]credential `json:"credentials"`
	Targets     []targetConfig        `json:"targets"`
}

type credential struct {
	Type          string `json:"type"`
	LibraryID     string `json:"library_id"`
	LibrarySecret string `json:"library_secret"`
	AccessKey     string `json:"access_key"`
	SecretKey     string `json:"secret_key"`
}

type targetConfig struct {
	Name        string   `json:"name"`
	Service     string   `json:"service"` // smh, workspace, cts
	Endpoint    string   `json:"endpoint"`
	Credentials string   `json:"credentials"`
	SpaceIDs    []string `json:"space_ids"`
	ProjectID   string   `json:"project_id"`
	SiteIDs     []string `json:"site_ids"`
}

func main() {
	addr := flag.String("web.listen-address", "127.0.0.1:9998", "address to serve /metrics on")
	path := flag.String("config.file", "", "JSON configuration")
	conc := flag.Int("scrape.concurrency", 8, "upstream requests in flight at most")
	flag.Parse()
	data, err := os.ReadFile(*path)
	if err != nil {
		log.Fatal(err)
	}
	var cfg config
	if err := json.Unmarshal(data, &cfg); err != nil {
		log.Fatalf("%s: %v", *path, err)
	}
	r, err := newReference(&cfg, max(1, *conc))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ready") })
	mux.HandleFunc("/metrics", r.serveMetrics)
	log.Fatal(http.ListenAndServe(*addr, mux))
}

// serveMetrics polls every target and writes the samples, gzipped when
// the scraper accepts it, as Prometheus asks and promhttp does. Scrapes
// are serialised: the harness scrapes one at a time, and the output
// buffers are reused.
func (r *reference) serveMetrics(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	body := r.scrape()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	if !strings.Contains(req.Header.Get("Accept-Encoding"), "gzip") {
		w.Write(body) //nolint:errcheck // the scraper went away
		return
	}
	w.Header().Set("Content-Encoding", "gzip")
	if r.gz == nil {
		r.gz = gzip.NewWriter(w)
	} else {
		r.gz.Reset(w)
	}
	r.gz.Write(body) //nolint:errcheck // the scraper went away
	r.gz.Close()     //nolint:errcheck // the scraper went away
}

// reference is the client's state: the request plan, the SMH tokens, each
// target's last success, and the buffers reused from scrape to scrape.
type reference struct {
	cfg     *config
	conc    int
	client  *http.Client
	targets []*target
	plan    []job // one per upstream data request, grouped by target
	tokens  map[string]*smhToken

	mu   sync.Mutex // one scrape at a time
	out  families
	gz   *gzip.Writer
	bufs sync.Pool // *bytes.Buffer: answer bodies
}

// target is one configured target and what the scrapes remember of it.
type target struct {
	targetConfig
	cred        credential
	jobs        [2]int // its requests: plan[jobs[0]:jobs[1]]
	lastSuccess time.Time
}

// smhToken is one credential's access token, fetched by the first request
// that needs it and kept, as the exporter keeps it (the simulated token
// lives a day).
type smhToken struct {
	mu    sync.Mutex
	value string
}

func newReference(cfg *config, conc int) (*reference, error) {
	r := &reference{cfg: cfg, conc: conc, tokens: map[string]*smhToken{}}
	// The exporter's transport keeps an idle connection per request slot;
	// so does this one, or it would pay for new connections instead.
	r.client = &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		MaxIdleConns: max(100, 2*conc), MaxIdleConnsPerHost: max(32, conc), IdleConnTimeout: 90 * time.Second,
	}}
	for i := range cfg.Targets {
		tc := cfg.Targets[i]
		cred, ok := cfg.Credentials[tc.Credentials]
		if !ok {
			return nil, fmt.Errorf("target %s: no credentials %q", tc.Name, tc.Credentials)
		}
		t := &target{targetConfig: tc, cred: cred}
		t.jobs[0] = len(r.plan)
		switch tc.Service {
		case "smh":
			if r.tokens[tc.Credentials] == nil {
				r.tokens[tc.Credentials] = &smhToken{}
			}
			for lo := 0; lo < len(tc.SpaceIDs); lo += 50 {
				r.plan = append(r.plan, job{t: t, ids: tc.SpaceIDs[lo:min(lo+50, len(tc.SpaceIDs))]})
			}
		case "workspace":
			sites := tc.SiteIDs
			if len(sites) == 0 {
				sites = []string{""} // the project's default site
			}
			for _, site := range sites {
				r.plan = append(r.plan, job{t: t, site: site})
			}
		case "cts":
			r.plan = append(r.plan, job{t: t})
		default:
			return nil, fmt.Errorf("target %s: unknown service %q", tc.Name, tc.Service)
		}
		t.jobs[1] = len(r.plan)
		r.targets = append(r.targets, t)
	}
	return r, nil
}
