package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const holderGood = `
credentials:
  - {name: m, type: tencent_smh, library_id: lib, library_secret: s}
targets:
  - {name: %s, service: smh, credentials: m, space_ids: [s1]}
`

const (
	successName   = "cloudquota_exporter_config_last_reload_successful"
	timestampName = "cloudquota_exporter_config_last_reload_success_timestamp_seconds"
)

// gauges gathers reg and returns each gauge's help and value. It stands in
// for prometheus/testutil, whose diff dependency is not in go.mod.
func gauges(t *testing.T, reg prometheus.Gatherer) map[string]gauge {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]gauge{}
	for _, mf := range mfs {
		if mf.GetType().String() != "GAUGE" || len(mf.GetMetric()) != 1 {
			t.Fatalf("%s: type %v with %d samples, want one gauge sample", mf.GetName(), mf.GetType(), len(mf.GetMetric()))
		}
		out[mf.GetName()] = gauge{mf.GetHelp(), mf.GetMetric()[0].GetGauge().GetValue()}
	}
	return out
}

type gauge struct {
	help  string
	value float64
}

func gaugeValue(t *testing.T, c prometheus.Collector, name string) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	return gauges(t, reg)[name].value
}

func TestHolderReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cloudquota.yml")
	write := func(content string) {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewPedanticRegistry()
	h := NewHolder(func() (*Config, error) { return Load(path, false) }, reg)
	now := time.Unix(1700000000, 500_000_000)
	h.now = func() time.Time { return now }

	check := func(step string, success, timestamp float64) {
		t.Helper()
		want := map[string]gauge{
			successName:   {"Whether the last configuration reload attempt was successful.", success},
			timestampName: {"Timestamp of the last successful configuration reload.", timestamp},
		}
		got := gauges(t, reg)
		if len(got) != len(want) {
			t.Errorf("%s: gathered %v, want %v", step, got, want)
		}
		for name, w := range want {
			if got[name] != w {
				t.Errorf("%s: %s = %+v, want %+v", step, name, got[name], w)
			}
		}
	}
	check("before any reload", 0, 0)
	if h.Config() != nil {
		t.Fatal("Config() before the first reload must be nil")
	}

	write(strings.ReplaceAll(holderGood, "%s", "first"))
	if err := h.Reload(); err != nil {
		t.Fatalf("first reload: %v", err)
	}
	first := h.Config()
	if first == nil || first.Targets[0].Name != "first" {
		t.Fatalf("after first reload: %+v", first)
	}
	check("after a good reload", 1, 1700000000.5)

	write("targets:\n  - name: broken\n")
	now = now.Add(time.Minute)
	err := h.Reload()
	if err == nil || !strings.Contains(err.Error(), `target "broken": service is required`) {
		t.Fatalf("bad reload returned %v", err)
	}
	if h.Config() != first {
		t.Error("a failed reload replaced the config")
	}
	check("after a bad reload", 0, 1700000000.5)

	write(strings.ReplaceAll(holderGood, "%s", "second"))
	now = now.Add(time.Minute)
	if err := h.Reload(); err != nil {
		t.Fatalf("third reload: %v", err)
	}
	if c := h.Config(); c == first || c.Targets[0].Name != "second" {
		t.Errorf("after the third reload: %+v", c)
	}
	check("after a good reload again", 1, 1700000120.5)
	if first.Targets[0].Name != "first" {
		t.Error("a reload modified a config that readers may still hold")
	}
}

func TestHolderWithoutRegistry(t *testing.T) {
	h := NewHolder(func() (*Config, error) { return nil, nil }, nil)
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	if c := h.Config(); c == nil || c.Global.Timeout.D() != DefaultTimeout {
		t.Errorf("a loader returning no config and no error gives %+v, want an empty config", c)
	}
	if got := gaugeValue(t, h.success, successName); got != 1 {
		t.Errorf("success gauge = %v", got)
	}
}

func TestHolderConcurrent(t *testing.T) {
	var n atomic.Int64
	errBad := errors.New("bad config")
	good := func(name string) *Config {
		c, err := Parse([]byte(strings.ReplaceAll(holderGood, "%s", name)), "x.yml", false)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	configs := []*Config{good("a"), good("b")}
	h := NewHolder(func() (*Config, error) {
		switch i := n.Add(1); i % 3 {
		case 0:
			return nil, errBad
		default:
			return configs[i%2], nil
		}
	}, prometheus.NewRegistry())
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				if err := h.Reload(); err != nil && !errors.Is(err, errBad) {
					t.Error(err)
				}
			}
		})
		wg.Go(func() {
			for range 2000 {
				c := h.Config()
				if c == nil || len(c.Targets) != 1 || (c != configs[0] && c != configs[1]) {
					t.Errorf("Config() = %+v, want one of the loaded configs", c)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := gaugeValue(t, h.success, successName); got != 0 && got != 1 {
		t.Errorf("success gauge = %v", got)
	}
}
