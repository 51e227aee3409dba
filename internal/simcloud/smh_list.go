package simcloud

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Operations of SMH's space listing and library totals, for Counts,
// Requests and OpOf.
const (
	OpSMHSpaceList    = "smh_space_list"
	OpSMHLibraryUsage = "smh_library_usage"
)

// SMHSettings are the knobs of SMH's listing and library totals, beyond
// what a Library holds.
type SMHSettings struct {
	// Libraries tunes libraries by id; one without an entry is listed
	// with the pages SMH's limit asks for and answers its totals with
	// totalFileSize only, as the official page shows.
	Libraries map[string]*SMHLibrary

	// grants are the grant each access token was asked for with.
	grants map[string]string
}

// SMHLibrary tunes how a library is listed and what its totals are.
type SMHLibrary struct {
	// PageSize caps a listing page below the request's limit (0: the
	// limit), so that a few spaces take many pages.
	PageSize int
	// RepeatMarker makes every page after the first send the marker it
	// was asked with as nextMarker again, as a broken server would: the
	// listing never ends.
	RepeatMarker bool
	// Totals, when set, makes the library's totals answer send every
	// field of the older SDKs, not totalFileSize only.
	Totals *LibraryTotals
}

// LibraryTotals are what a library's totals answer sends besides
// totalFileSize, which is the sum of its spaces' usage.
type LibraryTotals struct {
	// Capacity is the library's capacity; nil is sent as null, and so is
	// availableSpace then.
	Capacity *uint64
	// Allocated is totalAllocatedSpaceQuota; nil is sent as null.
	Allocated *uint64
	// Raw, when set, is sent verbatim instead, for tests of odd answers.
	// It must be valid JSON.
	Raw string
}

// library returns the settings of a library, nil for none. Called with
// c.mu held.
func (s *SMHSettings) library(id string) *SMHLibrary {
	return s.Libraries[id]
}

func (s *SMHSettings) setGrant(accessToken, grant string) {
	if s.grants == nil {
		s.grants = map[string]string{}
	}
	s.grants[accessToken] = grant
}

// granted tells whether the token was asked with one of the
// comma-separated grants in need.
func (s *SMHSettings) granted(accessToken, need string) bool {
	have := strings.Split(s.grants[accessToken], ",")
	for _, g := range strings.Split(need, ",") {
		if slices.Contains(have, g) {
			return true
		}
	}
	return false
}

const (
	spaceListPrefix = "/api/v1/space/"
	// maxListLimit is SMH's largest and default page size.
	maxListLimit = 1000
)

func isSpaceListPath(p string) bool {
	rest, ok := strings.CutPrefix(p, spaceListPrefix)
	lib, ok2 := strings.CutSuffix(rest, "/list")
	return ok && ok2 && lib != "" && !strings.Contains(lib, "/")
}

func isLibraryUsagePath(p string) bool {
	lib, ok := strings.CutPrefix(p, usagePrefix)
	return ok && lib != "" && !strings.Contains(lib, "/")
}

// pathLibrary is the library id in an escaped path between prefix and
// suffix.
func pathLibrary(u *url.URL, prefix, suffix string) (string, bool) {
	rest, ok := strings.CutPrefix(u.EscapedPath(), prefix)
	rest, ok2 := strings.CutSuffix(rest, suffix)
	if !ok || !ok2 {
		return "", false
	}
	lib, err := url.PathUnescape(rest)
	return lib, err == nil && lib != ""
}

// listedSpace is one element of the listing.
type listedSpace struct {
	SpaceID      string `json:"spaceId"`
	UserID       string `json:"userId"`
	CreationTime string `json:"creationTime"`
}

// smhSpaceList serves GET /api/v1/space/{LibraryId}/list. The marker is
// opaque to clients; here it holds the page number and the offset of the
// next space. Pages differ in shape as SMH's documents do, so that a
// client meets each: even pages send both marker and nextMarker (the
// official example), odd pages marker only (the SDKs' models); the last
// page sends no nextMarker and, when even, echoes the marker it was asked
// with.
func (c *Cloud) smhSpaceList(w http.ResponseWriter, r *http.Request, requestID string) {
	libraryID, ok := pathLibrary(r.URL, spaceListPrefix, "/list")
	q := r.URL.Query()
	limit, err := strconv.Atoi(q.Get("limit"))
	if q.Get("limit") == "" {
		limit, err = maxListLimit, nil
	}
	page, offset, markerOK := parseListMarker(q.Get("marker"))
	switch {
	case !ok:
		smhError(w, http.StatusBadRequest, "ParamInvalid", "want /api/v1/space/{LibraryId}/list", requestID)
		return
	case q.Get("access_token") == "":
		smhError(w, http.StatusBadRequest, "EmptyAccessToken", "access_token is required", requestID)
		return
	case err != nil || limit < 1 || limit > maxListLimit:
		smhError(w, http.StatusBadRequest, "ParamInvalid", "limit must be a whole number in [1, 1000]", requestID)
		return
	case !markerOK:
		smhError(w, http.StatusBadRequest, "ParamInvalid", "marker is invalid", requestID)
		return
	}

	c.mu.Lock()
	lib, fail := c.useToken(q.Get("access_token"), libraryID, "admin,space_admin")
	if fail != nil {
		c.mu.Unlock()
		smhError(w, fail.status, fail.code, fail.message, requestID)
		return
	}
	settings := c.SMH.library(libraryID)
	if settings != nil && settings.PageSize > 0 {
		limit = min(limit, settings.PageSize)
	}
	offset = min(offset, len(lib.Spaces))
	end := min(offset+limit, len(lib.Spaces))
	created := c.start.UTC().Format("2006-01-02T15:04:05.000Z")
	list := make([]listedSpace, 0, end-offset)
	for _, s := range lib.Spaces[offset:end] {
		list = append(list, listedSpace{SpaceID: s.ID, CreationTime: created})
	}
	repeat := settings != nil && settings.RepeatMarker
	more := end < len(lib.Spaces)
	c.mu.Unlock()

	answer := map[string]any{"list": list}
	next := listMarker(page+1, end)
	switch {
	case repeat && page > 0:
		answer["marker"], answer["nextMarker"] = q.Get("marker"), q.Get("marker")
	case more && page%2 == 0:
		answer["marker"], answer["nextMarker"] = next, next
	case more:
		answer["marker"] = next
	case page%2 == 0:
		answer["marker"] = q.Get("marker")
	}
	writeJSON(w, http.StatusOK, answer)
}

func listMarker(page, offset int) string { return fmt.Sprintf("mk%d.%d", page, offset) }

// parseListMarker reads a marker of listMarker; "" is the first page.
func parseListMarker(m string) (page, offset int, ok bool) {
	if m == "" {
		return 0, 0, true
	}
	p, o, found := strings.Cut(strings.TrimPrefix(m, "mk"), ".")
	page, err1 := strconv.Atoi(p)
	offset, err2 := strconv.Atoi(o)
	return page, offset, found && strings.HasPrefix(m, "mk") && err1 == nil && err2 == nil && page > 0 && offset >= 0
}

// libraryTotals is the full totals answer; nil pointers are sent as null.
type libraryTotals struct {
	TotalFileSize            *string `json:"totalFileSize"`
	Capacity                 *string `json:"capacity"`
	AvailableSpace           *string `json:"availableSpace"`
	TotalAllocatedSpaceQuota *string `json:"totalAllocatedSpaceQuota"`
}

// smhLibraryUsage serves GET /api/v1/usage/{LibraryId}, which needs an
// admin token.
func (c *Cloud) smhLibraryUsage(w http.ResponseWriter, r *http.Request, requestID string) {
	libraryID, ok := pathLibrary(r.URL, usagePrefix, "")
	accessToken := r.URL.Query().Get("access_token")
	switch {
	case !ok:
		smhError(w, http.StatusBadRequest, "ParamInvalid", "want /api/v1/usage/{LibraryId}", requestID)
		return
	case accessToken == "":
		smhError(w, http.StatusBadRequest, "EmptyAccessToken", "access_token is required", requestID)
		return
	}

	c.mu.Lock()
	lib, fail := c.useToken(accessToken, libraryID, "admin")
	if fail != nil {
		c.mu.Unlock()
		smhError(w, fail.status, fail.code, fail.message, requestID)
		return
	}
	var used uint64
	for _, s := range lib.Spaces {
		used += c.spaceUsed(s)
	}
	var answer any = map[string]*string{"totalFileSize": decimal(used)}
	if settings := c.SMH.library(libraryID); settings != nil && settings.Totals != nil {
		t := settings.Totals
		full := libraryTotals{TotalFileSize: decimal(used)}
		if t.Capacity != nil {
			full.Capacity = decimal(*t.Capacity)
			full.AvailableSpace = decimal(*t.Capacity - min(used, *t.Capacity))
		}
		if t.Allocated != nil {
			full.TotalAllocatedSpaceQuota = decimal(*t.Allocated)
		}
		answer = full
		if t.Raw != "" {
			answer = json.RawMessage(t.Raw)
		}
	}
	c.mu.Unlock()
	writeJSON(w, http.StatusOK, answer)
}
