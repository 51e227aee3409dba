package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// The families the exporter writes for its targets, in one fixed order.
const (
	famUp = iota
	famDuration
	famLastSuccess
	famClockOffset
	famSMHCapacity
	famSMHAvailable
	famSMHUsed
	famWorkspaceLimit
	famWorkspaceUsed
	famCTSLimit
	famCTSUsed
	famBackoff
	famCount
)

// familyNames are the metric names, with the exporter's; the HELP text
// is short, since only the samples are compared.
var familyNames = [famCount]string{
	"cloudquota_up", "cloudquota_collect_duration_seconds", "cloudquota_last_success_timestamp_seconds",
	"cloudquota_upstream_clock_offset_seconds",
	"cloudquota_smh_space_capacity_bytes", "cloudquota_smh_space_available_bytes", "cloudquota_smh_space_used_bytes",
	"cloudquota_workspace_quota_limit", "cloudquota_workspace_quota_used",
	"cloudquota_cts_quota_limit", "cloudquota_cts_quota_used",
	"cloudquota_credential_backoff_seconds",
}

// families holds one text buffer per family, reused from scrape to
// scrape, so that samples can be written in target order and still come
// out grouped by family.
type families struct {
	buf [famCount][]byte
	all []byte
}

// encode writes every target's samples: the quota samples of each answer,
// then up, collect duration, last success and clock offset, as the
// exporter does; a failed target gets up 0 and no quota samples.
func (r *reference) encode(jobs []job, start time.Time) []byte {
	f := &r.out
	for i := range f.buf {
		f.buf[i] = f.buf[i][:0]
	}
	for _, t := range r.targets {
		mine := jobs[t.jobs[0]:t.jobs[1]]
		up, end, date := 1.0, start, time.Time{}
		for i := range mine {
			if mine[i].err != nil {
				up = 0
			}
			if mine[i].done.After(end) {
				end = mine[i].done
			}
			if !mine[i].date.IsZero() {
				date = mine[i].date
			}
		}
		if up == 1 {
			t.lastSuccess = end
			for i := range mine {
				f.quotaSamples(&mine[i])
			}
		}
		f.sample(famUp, up, "target", t.Name, "service", t.Service)
		f.sample(famDuration, end.Sub(start).Seconds(), "target", t.Name, "service", t.Service)
		if !t.lastSuccess.IsZero() {
			f.sample(famLastSuccess, float64(t.lastSuccess.UnixNano())/1e9, "target", t.Name, "service", t.Service)
		}
		if !date.IsZero() {
			offset := date.Sub(end).Round(time.Second)
			f.sample(famClockOffset, offset.Seconds(), "target", t.Name, "service", t.Service)
		}
	}
	for name := range r.cfg.Credentials {
		f.sample(famBackoff, 0, "credential", name)
	}
	f.all = f.all[:0]
	for i, b := range f.buf {
		if len(b) == 0 {
			continue
		}
		f.all = append(f.all, "# HELP "+familyNames[i]+" See the exporter.\n# TYPE "+familyNames[i]+" gauge\n"...)
		f.all = append(f.all, b...)
	}
	return f.all
}

// quotaSamples writes the samples of one answer; a value that is null or
// not an exact unsigned integer gets none, as in the exporter.
func (f *families) quotaSamples(j *job) {
	t := j.t
	switch t.Service {
	case "smh":
		for _, s := range j.spaces {
			f.decimal(famSMHCapacity, s.Capacity, "target", t.Name, "library_id", t.cred.LibraryID, "space_id", s.SpaceID)
			f.decimal(famSMHAvailable, s.AvailableSpace, "target", t.Name, "library_id", t.cred.LibraryID, "space_id", s.SpaceID)
			f.decimal(famSMHUsed, s.Size, "target", t.Name, "library_id", t.cred.LibraryID, "space_id", s.SpaceID)
		}
	case "workspace":
		for _, q := range j.quotas {
			f.number(famWorkspaceLimit, q.Quota, "target", t.Name, "project_id", t.ProjectID, "site_id", j.site, "resource", q.Type, "unit", q.Unit)
			f.number(famWorkspaceUsed, q.Used, "target", t.Name, "project_id", t.ProjectID, "site_id", j.site, "resource", q.Type, "unit", q.Unit)
		}
	default:
		for _, q := range j.quotas {
			f.number(famCTSLimit, q.Quota, "target", t.Name, "project_id", t.ProjectID, "resource", q.Type)
			f.number(famCTSUsed, q.Used, "target", t.Name, "project_id", t.ProjectID, "resource", q.Type)
		}
	}
}

func (f *families) decimal(fam int, s *string, labels ...string) {
	if s == nil {
		return
	}
	if v, err := strconv.ParseUint(*s, 10, 64); err == nil {
		f.sample(fam, float64(v), labels...)
	}
}

func (f *families) number(fam int, n *json.Number, labels ...string) {
	if n == nil {
		return
	}
	if v, err := strconv.ParseUint(string(*n), 10, 64); err == nil {
		f.sample(fam, float64(v), labels...)
	}
}

// sample appends one line: name{k="v",...} value.
func (f *families) sample(fam int, v float64, labels ...string) {
	b := append(f.buf[fam], familyNames[fam]...)
	for i := 0; i < len(labels); i += 2 {
		if i == 0 {
			b = append(b, '{')
		} else {
			b = append(b, ',')
		}
		b = append(b, labels[i]...)
		b = append(b, '=', '"')
		b = append(b, labelEscaper.Replace(labels[i+1])...)
		b = append(b, '"')
	}
	if len(labels) > 0 {
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = strconv.AppendFloat(b, v, 'g', -1, 64)
	f.buf[fam] = append(b, '\n')
}

// labelEscaper escapes label values as the text format wants.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
