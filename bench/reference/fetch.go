package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// job is one upstream data request of a scrape and what it brought back.
type job struct {
	t    *target
	ids  []string // smh: one batch of at most 50 space ids
	site string   // workspace

	spaces []smhSpace // smh answer
	quotas []hwQuota  // workspace or cts answer
	date   time.Time  // the answer's Date header; zero when none
	done   time.Time
	err    error
}

// smhSpace is one element of an SMH usage answer: decimal strings or null.
type smhSpace struct {
	SpaceID        string  `json:"spaceId"`
	Capacity       *string `json:"capacity"`
	AvailableSpace *string `json:"availableSpace"`
	Size           *string `json:"size"`
}

// hwQuota is one element of a Workspace or CTS quota answer.
type hwQuota struct {
	Type  string       `json:"type"`
	Quota *json.Number `json:"quota"`
	Used  *json.Number `json:"used"`
	Unit  string       `json:"unit"`
}

// hwAnswer is the body of both Huawei quota answers.
type hwAnswer struct {
	Resources []hwQuota `json:"resources"`
}

// scrape runs every request of the plan, r.conc at a time, on as many
// workers, and encodes the answers.
func (r *reference) scrape() []byte {
	start := time.Now()
	jobs := make([]job, len(r.plan))
	copy(jobs, r.plan)
	next := make(chan *job)
	var wg sync.WaitGroup
	for range min(r.conc, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				j.err = r.do(j)
				j.done = time.Now()
			}
		}()
	}
	for i := range jobs {
		next <- &jobs[i]
	}
	close(next)
	wg.Wait()
	return r.encode(jobs, start)
}

// do sends one data request and decodes its answer.
func (r *reference) do(j *job) error {
	t := j.t
	switch t.Service {
	case "smh":
		tok, err := r.token(t)
		if err != nil {
			return err
		}
		escaped := make([]string, len(j.ids))
		for i, id := range j.ids {
			escaped[i] = url.PathEscape(id)
		}
		u := t.Endpoint + "/api/v1/usage/" + url.PathEscape(t.cred.LibraryID) + "/" + strings.Join(escaped, ",") +
			"?" + url.Values{"access_token": {tok}}.Encode()
		return r.get(j, u, nil, &j.spaces)
	case "workspace":
		path := "/v2/" + url.PathEscape(t.ProjectID) + "/quotas/detail"
		query := ""
		if j.site != "" {
			query = "site_id=" + escape(j.site)
		}
		var a hwAnswer
		err := r.signedGet(j, path, query, &a)
		j.quotas = a.Resources
		return err
	default: // cts
		var a hwAnswer
		err := r.signedGet(j, "/v3/"+url.PathEscape(t.ProjectID)+"/quotas", "", &a)
		j.quotas = a.Resources
		return err
	}
}

// token returns the credential's SMH access token, fetching it on first
// use.
func (r *reference) token(t *target) (string, error) {
	tok := r.tokens[t.Credentials]
	tok.mu.Lock()
	defer tok.mu.Unlock()
	if tok.value != "" {
		return tok.value, nil
	}
	var answer struct {
		AccessToken string `json:"accessToken"`
	}
	q := url.Values{"library_id": {t.cred.LibraryID}, "library_secret": {t.cred.LibrarySecret}}
	if err := r.get(&job{}, t.Endpoint+"/api/v1/token?"+q.Encode(), nil, &answer); err != nil {
		return "", err
	}
	tok.value = answer.AccessToken
	return tok.value, nil
}

// signedGet sends a Huawei GET signed as internal/huawei.Sign signs it:
// X-Project-Id and X-Sdk-Date signed, Content-Type sent but not signed.
func (r *reference) signedGet(j *job, path, query string, into any) error {
	date := time.Now().UTC().Format("20060102T150405Z")
	h := http.Header{}
	h.Set("X-Project-Id", j.t.ProjectID)
	h.Set("Content-Type", "application/json")
	h.Set("X-Sdk-Date", date)
	h.Set("Authorization", sign(j.t.cred, path, query, j.t.ProjectID, date))
	u := j.t.Endpoint + path
	if query != "" {
		u += "?" + query
	}
	return r.get(j, u, h, into)
}

// sign is SDK-HMAC-SHA256 for a body-less GET whose signed headers are
// x-project-id and x-sdk-date; path and query are as sent, escaped. The
// paths here hold only unreserved characters and slashes, so the
// canonical URI is the path with a trailing slash.
func sign(c credential, path, query, project, date string) string {
	const signed = "x-project-id;x-sdk-date"
	canonical := "GET\n" + strings.TrimSuffix(path, "/") + "/\n" + canonicalQuery(query) + "\n" +
		"x-project-id:" + project + "\nx-sdk-date:" + date + "\n\n" + signed + "\n" + sha256Hex(nil)
	toSign := "SDK-HMAC-SHA256\n" + date + "\n" + sha256Hex([]byte(canonical))
	mac := hmac.New(sha256.New, []byte(c.SecretKey))
	mac.Write([]byte(toSign))
	return "SDK-HMAC-SHA256 Access=" + c.AccessKey + ", SignedHeaders=" + signed + ", Signature=" + hex.EncodeToString(mac.Sum(nil))
}

// canonicalQuery sorts the pairs of a query written by escape.
func canonicalQuery(query string) string {
	if query == "" {
		return ""
	}
	pairs := strings.Split(query, "&")
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// escape percent-encodes all but RFC 3986's unreserved characters, as
// the signature's canonical form wants.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// get sends a GET and decodes a 200 answer's JSON into into, reading the
// body into a pooled buffer.
func (r *reference) get(j *job, u string, h http.Header, into any) error {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if h != nil {
		req.Header = h
	}
	req.Header.Set("User-Agent", "cloudquota-reference")
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	buf, _ := r.bufs.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	defer r.bufs.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, 16<<20)); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("GET %s: HTTP %d: %.200s", req.URL.Path, resp.StatusCode, buf.Bytes())
		log.Print(err)
		return err
	}
	if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		j.date = d
	}
	return json.Unmarshal(buf.Bytes(), into)
}
