package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cloudquota/cloudquota_exporter/bench/internal/benchutil"
	"github.com/cloudquota/cloudquota_exporter/config"
)

// startExporter writes the scenario's configuration, checked first so that
// a bad one is the harness's fault, found before any exporter runs; then it
// runs the exporter on a free loopback port, logging to base.log, and waits
// until it is ready.
func startExporter(ctx context.Context, o *options, bin, base string, sc scenario, f *fleet) (*benchutil.Exporter, error) {
	cfgPath := base + ".yml"
	yaml := f.configYAML(o.targetTimeout, sc.cacheTTL)
	if _, err := config.Parse([]byte(yaml), cfgPath, false); err != nil {
		return nil, fmt.Errorf("generated configuration is invalid: %w", err)
	}
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		return nil, err
	}
	addr, err := benchutil.FreePort()
	if err != nil {
		return nil, fmt.Errorf("finding a free port: %w", err)
	}
	exp, err := benchutil.Start(bin, addr, base+".log", "--config.file="+cfgPath, "--scrape.concurrency="+strconv.Itoa(sc.concurrency))
	if err != nil {
		return nil, err
	}
	if err := exp.WaitReady(ctx, 30*time.Second); err != nil {
		return nil, err
	}
	return exp, nil
}

// warnLines counts log lines at level warn or error.
func warnLines(log string) int {
	n := 0
	for _, c := range benchutil.CountLog(log) {
		if c.Level == "warn" || c.Level == "error" {
			n += c.N
		}
	}
	return n
}

// cpuSample is the CPU time, in seconds, of the exporter, of the
// reference client, of the harness and of the whole machine (busy) at one
// moment.
type cpuSample struct{ exporter, ref, self, busy float64 }

// sample reads the CPU times; pid or refPid 0 leaves that process out.
func sample(pid, refPid int) (cpuSample, error) {
	var s cpuSample
	var err0, err3 error
	if pid != 0 {
		s.exporter, err0 = cpuSeconds(pid)
	}
	if refPid != 0 {
		s.ref, err3 = cpuSeconds(refPid)
	}
	self, err1 := cpuSeconds(os.Getpid())
	busy, err2 := machineBusySeconds()
	s.self, s.busy = self, busy
	return s, errors.Join(err0, err1, err2, err3)
}

// userHZ is the unit of utime and stime in /proc/PID/stat: USER_HZ, which
// Linux fixes at 100 for user space whatever the kernel's HZ.
const userHZ = 100

// cpuSeconds reads utime+stime of the process from /proc/PID/stat.
func cpuSeconds(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// fields are counted from after its closing parenthesis.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	fields := strings.Fields(s[i+1:])
	// fields[0] is field 3 (state); utime is field 14, stime field 15.
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseUint(fields[11], 10, 64)
	stime, err2 := strconv.ParseUint(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return float64(utime+stime) / userHZ, nil
}

// machineBusySeconds reads the CPU time the whole machine has spent busy
// (everything but idle and iowait, all CPUs) from /proc/stat.
func machineBusySeconds() (float64, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, errors.New("unexpected /proc/stat")
	}
	var busy uint64
	for i, v := range f[1:] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, err
		}
		// user nice system idle iowait irq softirq steal guest guest_nice;
		// guest time is already counted in user.
		if i != 3 && i != 4 && i < 8 {
			busy += n
		}
	}
	return float64(busy) / userHZ, nil
}

// memInfo is the exporter's memory from /proc/PID/status, in bytes.
type memInfo struct {
	rss  float64 // VmRSS
	peak float64 // VmHWM: the highest VmRSS so far
	anon float64 // RssAnon: heap, stacks, runtime
	file float64 // RssFile: pages of the binary and other files
}

// memory reads the memory figures of the process.
func memory(pid int) (memInfo, error) {
	var m memInfo
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
	}
	fields := map[string]*float64{"VmRSS": &m.rss, "VmHWM": &m.peak, "RssAnon": &m.anon, "RssFile": &m.file}
	for _, line := range strings.Split(string(data), "\n") {
		key, value, ok := strings.Cut(line, ":")
		dst := fields[key]
		if !ok || dst == nil {
			continue
		}
		f := strings.Fields(value) // "12345 kB"
		if len(f) != 2 || f[1] != "kB" {
			return m, fmt.Errorf("unexpected %s line %q", key, line)
		}
		kb, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return m, err
		}
		*dst = kb * 1024
	}
	if m.rss == 0 {
		return m, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	return m, nil
}
