package huawei

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// Names and formats of the SDK-HMAC-SHA256 scheme.
const (
	// SigningAlgorithm opens the Authorization header and the string to sign.
	SigningAlgorithm = "SDK-HMAC-SHA256"
	// DateHeader carries the signing time; it is always signed.
	DateHeader = "X-Sdk-Date"
	// DateLayout is the time.Format layout of DateHeader, always in UTC.
	DateLayout = "20060102T150405Z"
	// SecurityTokenHeader carries the token of temporary credentials.
	SecurityTokenHeader = "X-Security-Token"
	// ProjectIDHeader names the project a request is meant for.
	ProjectIDHeader = "X-Project-Id"
)

// ErrMissingCredentials is returned by Sign when the access key or the
// secret key is empty.
var ErrMissingCredentials = errors.New("huawei: access key and secret key are required")

// Credentials are an AK/SK pair, with the security token of temporary
// credentials when there is one.
type Credentials struct {
	AccessKey     string
	SecretKey     string
	SecurityToken string
}

// String describes the credentials without their secrets, so that printing
// them by mistake leaks nothing.
func (c Credentials) String() string {
	s := "huawei.Credentials{AccessKey: " + c.AccessKey + ", SecretKey: <redacted>"
	if c.SecurityToken != "" {
		s += ", SecurityToken: <redacted>"
	}
	return s + "}"
}

// GoString is String, so that %#v leaks nothing either.
func (c Credentials) GoString() string { return c.String() }

// Sign adds X-Sdk-Date (unless header already has one, which is then
// used), X-Security-Token (for temporary credentials) and Authorization to
// header. u must be the URL exactly as it will be sent: its escaped path
// and its query are what gets signed. body is the exact request body.
// Empty keys (ErrMissingCredentials) and a malformed preset X-Sdk-Date are
// errors, and header is then left unchanged.
func Sign(method string, u *url.URL, header http.Header, body []byte, creds Credentials, now time.Time) error {
	if creds.AccessKey == "" || creds.SecretKey == "" {
		return ErrMissingCredentials
	}
	if u == nil || header == nil {
		return errors.New("huawei: Sign needs a URL and a header map")
	}
	date := formatDate(now)
	if values := headerValues(header, DateHeader); len(values) > 0 {
		t, err := time.Parse(DateLayout, headerValue(values))
		if err != nil {
			return fmt.Errorf("huawei: invalid %s header %q", DateHeader, headerValue(values))
		}
		date = t.Format(DateLayout)
	}
	// Both headers must exist before the signed header list is taken,
	// since every header present is signed.
	setHeader(header, DateHeader, date)
	if creds.SecurityToken != "" {
		setHeader(header, SecurityTokenHeader, creds.SecurityToken)
	}
	// A stale Authorization from an earlier attempt must not be signed.
	setHeader(header, "Authorization", "")

	values := lowerHeaders(header)
	signed := signedHeaderNames(values)
	if _, ok := values["host"]; ok {
		// net/http sends the URL's host whatever the header map says,
		// so that is the value the server will check.
		values["host"] = []string{u.Host}
	}
	payloadHash := emptyPayloadHash
	if len(body) > 0 {
		payloadHash = hashHex(body)
	}
	canonical := canonicalRequest(method, u.EscapedPath(), ParseQuery(u.RawQuery), values, signed, payloadHash)
	header.Set("Authorization", SigningAlgorithm+" Access="+creds.AccessKey+", SignedHeaders="+strings.Join(signed, ";")+", Signature="+signature(creds.SecretKey, date, canonical))
	return nil
}

// canonicalRequest builds the text that is hashed into the string to sign.
// headers is keyed by lowercase name; signed lists the names to include, in
// order.
func canonicalRequest(method, escapedPath string, query url.Values, headers map[string][]string, signed []string, payloadHash string) string {
	var b strings.Builder
	b.Grow(256)
	for _, part := range []string{method, canonicalURI(escapedPath), canonicalQueryString(query)} {
		b.WriteString(part)
		b.WriteByte('\n')
	}
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(headerValue(headers[name]))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// canonicalURI re-escapes each segment of the path as sent on the wire.
// Unescaping first makes the result independent of how the sender chose to
// escape (a path may legally carry %41 for A), so client and server agree.
func canonicalURI(escapedPath string) string {
	segments := strings.Split(escapedPath, "/")
	for i, seg := range segments {
		if raw, err := url.PathUnescape(seg); err == nil {
			seg = raw
		}
		segments[i] = escape(seg)
	}
	p := strings.Join(segments, "/")
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// canonicalQueryString sorts keys by their raw bytes, as the SDK does, and
// the values of a repeated key among themselves.
func canonicalQueryString(query url.Values) string {
	keys := make([]string, 0, len(query))
	for k := range query {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		values := append([]string(nil), query[k]...)
		sort.Strings(values)
		for _, v := range values {
			parts = append(parts, escape(k)+"="+escape(v))
		}
	}
	return strings.Join(parts, "&")
}

// EncodeQuery writes query for the wire as both official SDKs do: sorted by
// key, with a space as %20 rather than url.Values.Encode's "+", which a
// gateway reading the query by RFC 3986 takes for a plus sign.
func EncodeQuery(query url.Values) string {
	// Encode writes a literal "+" as %2B, so every "+" left is a space.
	return strings.ReplaceAll(query.Encode(), "+", "%20")
}

// ParseQuery reads a raw query the way Sign and Verify canonicalise it: by
// RFC 3986, so "+" is a plus sign and only %20 is a space. Reading it as a
// form (url.ParseQuery) would sign "a+b" as "a b", a value that a strict
// gateway does not see. Pairs with a malformed escape are dropped, alike
// on both sides. For every query EncodeQuery writes, the result equals
// url.ParseQuery's.
func ParseQuery(raw string) url.Values {
	query := url.Values{}
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err1 := url.PathUnescape(k)
		value, err2 := url.PathUnescape(v)
		if err1 != nil || err2 != nil {
			continue
		}
		query[key] = append(query[key], value)
	}
	return query
}

// escape percent-encodes every byte except the RFC 3986 unreserved ones,
// with uppercase hex; unlike url.QueryEscape it writes a space as %20.
func escape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0xf])
	}
	return b.String()
}

// signedHeaderNames lists every header present except names starting with
// content-type and names holding an underscore. The rule is copied from
// huaweicloud-sdk-go-v3 (extractSignedHeaders), the reference the published
// test vectors come from.
func signedHeaderNames(headers map[string][]string) []string {
	var names []string
	for name := range headers {
		if strings.HasPrefix(name, "content-type") || strings.Contains(name, "_") {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// lowerHeaders merges the header map by lowercase name, so that keys set
// without canonicalisation are still found.
func lowerHeaders(h http.Header) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, v := range h {
		lk := strings.ToLower(k)
		out[lk] = append(out[lk], v...)
	}
	return out
}

// headerValues are the values of every spelling of name in h, as
// lowerHeaders merges them (by strings.ToLower, not Unicode folding: a
// "ſ" in a key does not make it an "s").
func headerValues(h http.Header, name string) []string {
	lower := strings.ToLower(name)
	var values []string
	for k, v := range h {
		if strings.ToLower(k) == lower {
			values = append(values, v...)
		}
	}
	return values
}

// setHeader replaces every spelling of name; an empty value deletes it.
func setHeader(h http.Header, name, value string) {
	for k := range h {
		if strings.EqualFold(k, name) {
			delete(h, k)
		}
	}
	if value != "" {
		h.Set(name, value)
	}
}

func headerValue(values []string) string {
	trimmed := make([]string, len(values))
	for i, v := range values {
		trimmed[i] = strings.TrimSpace(v)
	}
	return strings.Join(trimmed, ",")
}

// formatDate is now in DateLayout. It is the same text for a whole
// second, so the last one is kept: every request is signed with it.
func formatDate(now time.Time) string {
	now = now.UTC()
	second := now.Unix()
	if last := lastDate.Load(); last != nil && last.second == second {
		return last.text
	}
	text := now.Format(DateLayout)
	lastDate.Store(&formattedDate{second: second, text: text})
	return text
}

type formattedDate struct {
	second int64
	text   string
}

var lastDate atomic.Pointer[formattedDate]

// emptyPayloadHash is hashHex of an empty body, that of every GET.
var emptyPayloadHash = hashHex(nil)

func hashHex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func signature(secretKey, date, canonical string) string {
	stringToSign := SigningAlgorithm + "\n" + date + "\n" + hashHex([]byte(canonical))
	mac := hmac.New(sha256.New, []byte(secretKey))
	mac.Write([]byte(stringToSign))
	return hex.EncodeToString(mac.Sum(nil))
}
