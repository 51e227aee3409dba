// Package buildinfo fills in the build information of
// github.com/prometheus/common/version (shown by --version, logged at
// start-up, on the landing page and in cloudquota_exporter_build_info) for
// builds that did not set it with -ldflags "-X ...", such as a plain
// "go build", "go install" or "go run".
//
// A release build (goreleaser, the Dockerfile) sets every variable with -X;
// Fill then changes nothing it set. Otherwise:
//
//   - Version comes from the repository's VERSION file (embedded by package
//     main), or else from the module version that "go install module@vX"
//     records;
//   - Revision and BuildDate come from the version control information that
//     the go command stamps into the binary (vcs.revision, vcs.time;
//     vcs.modified=true adds "-modified" to the revision, as
//     prometheus/common does);
//   - Branch is not recorded by the go command: it becomes "unknown", since
//     Prometheus drops labels with empty values and the build_info series
//     would lose its branch label;
//   - anything still unknown becomes "unknown".
//
// The go command stamps version control information into "go build" and
// "go install" binaries built inside a Git checkout (unless -buildvcs=false),
// but not into "go run" or "go test" binaries; those report revision
// "unknown".
package buildinfo

import (
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/common/version"
)

// Unknown is the value of a build variable that no source could tell.
const Unknown = "unknown"

// dateLayout is the BuildDate format of Prometheus builds (promu):
// 20060102-15:04:05, in UTC.
const dateLayout = "20060102-15:04:05"

// Fill sets the variables of github.com/prometheus/common/version that are
// still empty. versionFile is the content of the VERSION file; surrounding
// white space is ignored. Call it before anything reads those variables,
// e.g. first thing in main, before the flags (and so --version) are set up.
func Fill(versionFile string) {
	info, _ := debug.ReadBuildInfo()
	v := Compute(versionFile, info)
	set(&version.Version, v.Version)
	set(&version.Revision, v.Revision)
	set(&version.Branch, v.Branch)
	set(&version.BuildUser, v.BuildUser)
	set(&version.BuildDate, v.BuildDate)
}

func set(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

// Values is the build information that Compute derives.
type Values struct {
	Version, Revision, Branch, BuildUser, BuildDate string
}

// Compute derives build information from the VERSION file's content and
// the binary's build information (nil when there is none). Every field of
// the result is non-empty.
func Compute(versionFile string, info *debug.BuildInfo) Values {
	v := Values{
		Version:   strings.TrimSpace(versionFile),
		Revision:  Unknown,
		Branch:    Unknown,
		BuildUser: Unknown,
		BuildDate: Unknown,
	}
	if info == nil {
		if v.Version == "" {
			v.Version = Unknown
		}
		return v
	}
	if v.Version == "" {
		// "go install module@v1.2.3" records v1.2.3; local builds record
		// "(devel)" or a pseudo-version made up from the VCS state, which
		// says less than the revision below.
		if mv := info.Main.Version; strings.HasPrefix(mv, "v") && !isPseudo(mv) {
			v.Version = strings.TrimPrefix(mv, "v")
		} else {
			v.Version = Unknown
		}
	}
	var modified bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			if s.Value != "" {
				v.Revision = s.Value
			}
		case "vcs.time":
			if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
				v.BuildDate = t.UTC().Format(dateLayout)
			}
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && v.Revision != Unknown {
		v.Revision += "-modified"
	}
	return v
}

// isPseudo tells a Go pseudo-version such as
// v0.0.0-20260102150405-0123456789ab or v1.2.4-0.20260102150405-0123456789ab+dirty.
func isPseudo(v string) bool {
	v, _, _ = strings.Cut(v, "+")
	i := strings.LastIndexByte(v, '-')
	if i < 0 || len(v)-i-1 != 12 {
		return false
	}
	rest := v[:i]
	j := strings.LastIndexAny(rest, "-.")
	return j >= 0 && len(rest)-j-1 == 14
}
