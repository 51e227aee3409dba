package simcloud

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// smhError writes SMH's error body {code, message, requestId}.
func smhError(w http.ResponseWriter, status int, code, message, requestID string) {
	writeJSON(w, status, map[string]string{"code": code, "message": message, "requestId": requestID})
}

// smhToken serves GET /api/v1/token.
func (c *Cloud) smhToken(w http.ResponseWriter, r *http.Request, requestID string) {
	c.count(OpSMHToken)
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
		smhError(w, http.StatusNotFound, "WrongLibraryIdOrSecret", "the library id or secret is wrong", requestID)
		return
	}
	accessToken := "acctk" + newID(20)
	c.tokens[accessToken] = token{library: libraryID, lifetime: lifetime, expires: c.Now().Add(lifetime)}
	c.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"accessToken": accessToken, "expiresIn": int(lifetime / time.Second)})
}

// smhSpaceUsage is one element of the usage answer; nil pointers are sent
// as null.
type smhSpaceUsage struct {
	SpaceID        string  `json:"spaceId"`
	Capacity       *string `json:"capacity"`
	AvailableSpace *string `json:"availableSpace"`
	Size           *string `json:"size"`
}

// smhUsage serves GET /api/v1/usage/{LibraryId}/{SpaceIds}.
func (c *Cloud) smhUsage(w http.ResponseWriter, r *http.Request, requestID string) {
	c.count(OpSMHUsage)
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/v1/usage/"), "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		smhError(w, http.StatusBadRequest, "ParamInvalid", "want /api/v1/usage/{LibraryId}/{SpaceIds}", requestID)
		return
	}
	libraryID, spaceIDs := parts[0], strings.Split(parts[1], ",")
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
func (c *Cloud) usageAnswer(accessToken, libraryID string, spaceIDs []string) ([]smhSpaceUsage, *smhFailure) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tok, ok := c.tokens[accessToken]
	if !ok || !c.Now().Before(tok.expires) {
		delete(c.tokens, accessToken)
		return nil, &smhFailure{http.StatusForbidden, "InvalidAccessToken", "the access token is invalid or expired"}
	}
	if tok.library != libraryID {
		return nil, &smhFailure{http.StatusForbidden, "AccessTokenNotMatchLibrary", "the access token belongs to another library"}
	}
	lib, ok := c.Libraries[libraryID]
	if !ok {
		return nil, &smhFailure{http.StatusNotFound, "LibraryNotFound", "no such library"}
	}
	// Like the cloud, each use renews the token for its whole period.
	tok.expires = c.Now().Add(tok.lifetime)
	c.tokens[accessToken] = tok
	elapsed := c.Now().Sub(c.start)
	answer := make([]smhSpaceUsage, 0, len(spaceIDs))
	for _, id := range spaceIDs {
		space := findSpace(lib, id)
		if space == nil {
			return nil, &smhFailure{http.StatusNotFound, "SpaceNotFound", "no such space: " + id}
		}
		used := drift(space.Used, space.Swing, space.Used, space.Capacity, elapsed, c.DriftPeriod)
		u := smhSpaceUsage{SpaceID: id, Size: decimal(used)}
		if space.Capacity != nil {
			u.Capacity = decimal(*space.Capacity)
			u.AvailableSpace = decimal(*space.Capacity - min(used, *space.Capacity))
		}
		answer = append(answer, u)
	}
	return answer, nil
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
