package simcloud

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const usagePrefix = "/api/v1/usage/"

// smhRoutes are SMH's token, listing and usage routes. The library's
// totals come first: their path is a prefix of the spaces' usage path.
var smhRoutes = []route{
	{OpSMHToken, func(p string) bool { return p == "/api/v1/token" }, (*Cloud).smhToken},
	{OpSMHSpaceList, isSpaceListPath, (*Cloud).smhSpaceList},
	{OpSMHLibraryUsage, isLibraryUsagePath, (*Cloud).smhLibraryUsage},
	{OpSMHUsage, func(p string) bool { return strings.HasPrefix(p, usagePrefix) }, (*Cloud).smhUsage},
}

// smhError writes SMH's error body {code, message, requestId}.
func smhError(w http.ResponseWriter, status int, code, message, requestID string) {
	writeJSON(w, status, map[string]string{"code": code, "message": message, "requestId": requestID})
}

// SMHError answers with SMH's error body and the request id the cloud gave
// the request, so that a hook injects the failure SMH itself would send.
func SMHError(w http.ResponseWriter, status int, code, message string) {
	smhError(w, status, code, message, w.Header().Get("X-Request-Id"))
}

// SMHSpaceIDs returns the space ids of a usage request's URL (a hook's
// r.URL or a logged Request's), unescaped; nil for another route.
func SMHSpaceIDs(u *url.URL) []string {
	_, ids, _ := parseUsagePath(u)
	return ids
}

// SMHTokens returns every SMH access token issued while recording (see
// Record), revoked or not, so that tests can check none leaks.
func (c *Cloud) SMHTokens() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.issued)
}

// parseUsagePath splits /api/v1/usage/{LibraryId}/{SpaceIds}. It works on
// the escaped path, since an id may hold an escaped '/'.
func parseUsagePath(u *url.URL) (libraryID string, spaceIDs []string, ok bool) {
	rest, found := strings.CutPrefix(u.EscapedPath(), usagePrefix)
	parts := strings.Split(rest, "/")
	if !found || len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "", nil, false
	}
	libraryID, err := url.PathUnescape(parts[0])
	if err != nil {
		return "", nil, false
	}
	for _, id := range strings.Split(parts[1], ",") {
		if id, err = url.PathUnescape(id); err != nil {
			return "", nil, false
		}
		spaceIDs = append(spaceIDs, id)
	}
	return libraryID, spaceIDs, true
}

// echo is what an error message quotes of a refused secret: the secret
// itself with EchoSecrets, else nothing.
func (c *Cloud) echo(secret string) string {
	if !c.EchoSecrets {
		return ""
	}
	return ": " + secret
}

// smhToken serves GET /api/v1/token.
func (c *Cloud) smhToken(w http.ResponseWriter, r *http.Request, requestID string) {
	q := r.URL.Query()
	libraryID, secret := q.Get("library_id"), q.Get("library_secret")
	if libraryID == "" || secret == "" {
		smhError(w, http.StatusBadRequest, "EmptyLibraryIdOrSecret", "library_id and library_secret are required", requestID)
		return
	}
	lifetime := c.TokenLifetime
	if p := q.Get("period"); p != "" {
		secs, err := strconv.Atoi(p)
		if err != nil || secs <= 0 {
			smhError(w, http.StatusBadRequest, "ParamInvalid", "period must be a positive number of seconds", requestID)
			return
		}
		lifetime = time.Duration(secs) * time.Second
	}
	c.mu.Lock()
	lib, ok := c.Libraries[libraryID]
	if !ok || lib.Secret != secret {
		c.mu.Unlock()
		smhError(w, http.StatusNotFound, "WrongLibraryIdOrSecret", "the library id or secret is wrong"+c.echo(secret), requestID)
		return
	}
	accessToken := "acctk" + newID(20)
	c.tokens[accessToken] = token{library: libraryID, lifetime: lifetime, expires: c.Now().Add(lifetime)}
	c.SMH.setGrant(accessToken, q.Get("grant"))
	if c.Record {
		c.issued = append(c.issued, accessToken)
	}
	c.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"accessToken": accessToken, "expiresIn": int(lifetime / time.Second)})
}

// smhSpaceUsage is one element of the usage answer; nil pointers are sent
// as null. A Space's Raw is sent instead when set.
type smhSpaceUsage struct {
	SpaceID        string  `json:"spaceId"`
	Capacity       *string `json:"capacity"`
	AvailableSpace *string `json:"availableSpace"`
	Size           *string `json:"size"`
}

// smhUsage serves GET /api/v1/usage/{LibraryId}/{SpaceIds}.
func (c *Cloud) smhUsage(w http.ResponseWriter, r *http.Request, requestID string) {
	libraryID, spaceIDs, ok := parseUsagePath(r.URL)
	if !ok {
		smhError(w, http.StatusBadRequest, "ParamInvalid", "want /api/v1/usage/{LibraryId}/{SpaceIds}", requestID)
		return
	}
	accessToken := r.URL.Query().Get("access_token")
	if accessToken == "" {
		smhError(w, http.StatusBadRequest, "EmptyAccessToken", "access_token is required", requestID)
		return
	}

	answer, fail := c.usageAnswer(accessToken, libraryID, spaceIDs)
	if fail != nil {
		smhError(w, fail.status, fail.code, fail.message, requestID)
		return
	}
	writeJSON(w, http.StatusOK, answer)
}

// smhFailure is an SMH error answer.
type smhFailure struct {
	status        int
	code, message string
}

// usageAnswer builds the usage answer with the cloud locked; it is written
// after the lock is released, so that a slow reader does not stall the
// cloud.
func (c *Cloud) usageAnswer(accessToken, libraryID string, spaceIDs []string) ([]any, *smhFailure) {
	c.mu.Lock()
	defer c.mu.Unlock()
	lib, fail := c.useToken(accessToken, libraryID, "")
	if fail != nil {
		return nil, fail
	}
	answer := make([]any, 0, len(spaceIDs))
	for _, id := range spaceIDs {
		space := findSpace(lib, id)
		if space == nil {
			return nil, &smhFailure{http.StatusNotFound, "SpaceNotFound", "no such space: " + id}
		}
		if space.Raw != "" {
			answer = append(answer, json.RawMessage(space.Raw))
			continue
		}
		used := c.spaceUsed(space)
		u := smhSpaceUsage{SpaceID: id, Size: decimal(used)}
		if space.Capacity != nil {
			u.Capacity = decimal(*space.Capacity)
			u.AvailableSpace = decimal(*space.Capacity - min(used, *space.Capacity))
		}
		answer = append(answer, u)
	}
	return answer, nil
}

// spaceUsed is a space's usage now, drift included. Called with c.mu
// held.
func (c *Cloud) spaceUsed(s *Space) uint64 {
	return drift(s.Used, s.Swing, s.Used, s.Capacity, c.Now().Sub(c.start), c.DriftPeriod)
}

// useToken checks an access token for a request on libraryID and renews
// it, as SMH does on each use. need, when set, is the grants of which the
// token must have one ("admin,space_admin"). Called with c.mu held.
func (c *Cloud) useToken(accessToken, libraryID, need string) (*Library, *smhFailure) {
	tok, ok := c.tokens[accessToken]
	if !ok || !c.Now().Before(tok.expires) {
		delete(c.tokens, accessToken)
		return nil, &smhFailure{http.StatusForbidden, "InvalidAccessToken", "the access token is invalid or expired" + c.echo(accessToken)}
	}
	if tok.library != libraryID {
		return nil, &smhFailure{http.StatusForbidden, "AccessTokenNotMatchLibrary", "the access token belongs to another library" + c.echo(accessToken)}
	}
	lib, ok := c.Libraries[libraryID]
	if !ok {
		return nil, &smhFailure{http.StatusNotFound, "LibraryNotFound", "no such library"}
	}
	if need != "" && !c.SMH.granted(accessToken, need) {
		return nil, &smhFailure{http.StatusForbidden, "NoPermission", "the access token needs one of the grants " + need + c.echo(accessToken)}
	}
	tok.expires = c.Now().Add(tok.lifetime)
	c.tokens[accessToken] = tok
	return lib, nil
}

func findSpace(lib *Library, id string) *Space {
	for _, s := range lib.Spaces {
		if s.ID == id {
			return s
		}
	}
	return nil
}

func decimal(v uint64) *string {
	s := strconv.FormatUint(v, 10)
	return &s
}
