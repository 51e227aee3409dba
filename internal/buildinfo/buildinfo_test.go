package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/common/version"
)

func settings(kv ...string) []debug.BuildSetting {
	var s []debug.BuildSetting
	for i := 0; i < len(kv); i += 2 {
		s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
	}
	return s
}

func TestCompute(t *testing.T) {
	const rev = "0123456789abcdef0123456789abcdef01234567"
	for _, tc := range []struct {
		name        string
		versionFile string
		info        *debug.BuildInfo
		want        Values
	}{
		{
			name:        "go build in a clean checkout",
			versionFile: "0.2.0\n",
			info: &debug.BuildInfo{
				Main:     debug.Module{Path: "github.com/cloudquota/cloudquota_exporter", Version: "(devel)"},
				Settings: settings("vcs", "git", "vcs.revision", rev, "vcs.time", "2026-11-02T15:04:05Z", "vcs.modified", "false"),
			},
			want: Values{Version: "0.2.0", Revision: rev, Branch: Unknown, BuildUser: Unknown, BuildDate: "20261102-15:04:05"},
		},
		{
			name:        "go build with local changes; vcs.time in another zone",
			versionFile: "  0.2.0  ",
			info: &debug.BuildInfo{
				Main:     debug.Module{Version: "v0.2.1-0.20261102150405-0123456789ab+dirty"},
				Settings: settings("vcs.revision", rev, "vcs.time", "2026-11-02T17:04:05+02:00", "vcs.modified", "true"),
			},
			want: Values{Version: "0.2.0", Revision: rev + "-modified", Branch: Unknown, BuildUser: Unknown, BuildDate: "20261102-15:04:05"},
		},
		{
			name:        "go run: no VCS stamp",
			versionFile: "0.2.0",
			info:        &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: settings("-trimpath", "true")},
			want:        Values{Version: "0.2.0", Revision: Unknown, Branch: Unknown, BuildUser: Unknown, BuildDate: Unknown},
		},
		{
			name: "go install module@version, no VERSION content",
			info: &debug.BuildInfo{Main: debug.Module{Version: "v0.3.1"}},
			want: Values{Version: "0.3.1", Revision: Unknown, Branch: Unknown, BuildUser: Unknown, BuildDate: Unknown},
		},
		{
			name: "pseudo-version is not a version",
			info: &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261102150405-0123456789ab"}},
			want: Values{Version: Unknown, Revision: Unknown, Branch: Unknown, BuildUser: Unknown, BuildDate: Unknown},
		},
		{
			name:        "modified without a revision stays unknown",
			versionFile: "1.0.0",
			info:        &debug.BuildInfo{Settings: settings("vcs.modified", "true", "vcs.time", "not a time")},
			want:        Values{Version: "1.0.0", Revision: Unknown, Branch: Unknown, BuildUser: Unknown, BuildDate: Unknown},
		},
		{
			name: "no build information at all",
			want: Values{Version: Unknown, Revision: Unknown, Branch: Unknown, BuildUser: Unknown, BuildDate: Unknown},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Compute(tc.versionFile, tc.info); got != tc.want {
				t.Errorf("Compute(%q, ...)\n got %+v\nwant %+v", tc.versionFile, got, tc.want)
			}
		})
	}
}

func TestIsPseudo(t *testing.T) {
	for v, want := range map[string]bool{
		"v0.0.0-20261102150405-0123456789ab":        true,
		"v1.2.4-0.20261102150405-0123456789ab":      true,
		"v1.2.4-rc.1.0.20261102150405-0123456789ab": true,
		"v0.0.0-20261102150405-0123456789ab+dirty":  true,
		"v1.2.3":        false,
		"v1.2.3-rc.1":   false,
		"v1.2.3+build1": false,
	} {
		if got := isPseudo(v); got != want {
			t.Errorf("isPseudo(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestFill checks that Fill keeps what -ldflags set and fills the rest with
// something non-empty, so that build_info keeps all its labels.
func TestFill(t *testing.T) {
	saved := [...]string{version.Version, version.Revision, version.Branch, version.BuildUser, version.BuildDate}
	t.Cleanup(func() {
		version.Version, version.Revision, version.Branch, version.BuildUser, version.BuildDate =
			saved[0], saved[1], saved[2], saved[3], saved[4]
	})

	version.Version, version.Revision, version.Branch, version.BuildUser, version.BuildDate = "", "", "", "", ""
	Fill("0.2.0\n")
	if version.Version != "0.2.0" {
		t.Errorf("Version = %q, want 0.2.0 from the VERSION file", version.Version)
	}
	for name, v := range map[string]string{"Revision": version.Revision, "Branch": version.Branch, "BuildUser": version.BuildUser, "BuildDate": version.BuildDate} {
		if v == "" {
			t.Errorf("%s is still empty after Fill", name)
		}
	}
	if strings.Contains(version.Print("cloudquota_exporter"), "branch: ,") {
		t.Errorf("version.Print still shows an empty branch:\n%s", version.Print("cloudquota_exporter"))
	}

	version.Version, version.Revision, version.Branch, version.BuildUser, version.BuildDate =
		"9.8.7", "abc", "main", "ci@host", "20990102-03:04:05"
	Fill("0.2.0")
	got := [...]string{version.Version, version.Revision, version.Branch, version.BuildUser, version.BuildDate}
	want := [...]string{"9.8.7", "abc", "main", "ci@host", "20990102-03:04:05"}
	if got != want {
		t.Errorf("Fill changed values set by -ldflags: got %q, want %q", got, want)
	}
}
