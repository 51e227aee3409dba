package upstream

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxErrorText bounds how much upstream text an error carries into logs.
const maxErrorText = 300

// APIError is an upstream answer with a non-2xx status. The fields come from
// the error body, whichever of the clouds' shapes it has:
// SMH's {code, message, requestId}, Huawei's {error_code, error_msg,
// error_detail, encoded_authorization_message, request_id}, or a nested
// {"error": {code, message}}.
type APIError struct {
	Service    string
	Operation  string
	StatusCode int
	Code       string
	Message    string
	Detail     string
	// EncodedAuthorizationMessage is Huawei's encrypted reason for an
	// authorization refusal, to be decoded with STS by the operator.
	EncodedAuthorizationMessage string
	RequestID                   string
	// RetryAfter is the upstream's Retry-After, when it sent one.
	RetryAfter time.Duration
}

// Error returns a one-line description with the status, code, message and
// request id.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: HTTP %d", e.Service, e.Operation, e.StatusCode)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Detail != "" && e.Detail != e.Message {
		b.WriteString(" (" + e.Detail + ")")
	}
	if e.RequestID != "" {
		b.WriteString(" [request id " + e.RequestID + "]")
	}
	return b.String()
}

// redact sanitises and redacts the fields from upstream: as one text, so
// that a secret that upstream split across two fields is found, and as
// the parts of the line Error prints, so that one completed by the words
// between them is; then it cuts them, so that a cut never leaves a part
// of a secret unrecognised.
func (e *APIError) redact(r *Redactor) {
	fields := []*string{&e.Code, &e.Message, &e.Detail, &e.RequestID}
	joined := r.Fields(e.Code, e.Message, e.Detail, e.RequestID)
	for i, f := range fields {
		*f = joined[i]
	}
	var parts []string
	index := make([]int, len(fields)) // of each field in parts, -1 if not printed
	add := func(sep string, field int) {
		parts = append(parts, sep)
		index[field] = len(parts)
		parts = append(parts, *fields[field])
	}
	parts = append(parts, fmt.Sprintf("%s %s: HTTP %d", e.Service, e.Operation, e.StatusCode))
	for i := range index {
		index[i] = -1
	}
	if e.Code != "" {
		add(" ", 0)
	}
	if e.Message != "" {
		add(": ", 1)
	}
	if e.Detail != "" && e.Detail != e.Message {
		add(" (", 2)
		parts = append(parts, ")")
	}
	if e.RequestID != "" {
		add(" [request id ", 3)
		parts = append(parts, "]")
	}
	out := r.Fields(parts...)
	for i, f := range fields {
		if index[i] >= 0 {
			*f = out[index[i]]
		}
		*f = cut(*f)
	}
	e.EncodedAuthorizationMessage = r.Value(e.EncodedAuthorizationMessage)
}

// TransportError means no usable answer came: the connection failed, the
// deadline passed, or the body could not be read in full.
type TransportError struct {
	Service    string
	Operation  string
	StatusCode int // set when a status line arrived before the failure
	RequestID  string
	Err        error
}

// Error describes the failure without the request URL.
func (e *TransportError) Error() string {
	msg := fmt.Sprintf("%s %s: request failed: %v", e.Service, e.Operation, e.Err)
	if e.RequestID != "" {
		msg += " [request id " + e.RequestID + "]"
	}
	return msg
}

// Unwrap returns the underlying cause.
func (e *TransportError) Unwrap() error { return e.Err }

// DecodeError is returned by providers when a 2xx answer cannot be decoded.
type DecodeError struct {
	Service   string
	Operation string
	RequestID string
	Err       error
}

// Error describes what was wrong with the answer.
func (e *DecodeError) Error() string {
	msg := fmt.Sprintf("%s %s: unusable answer: %v", e.Service, e.Operation, e.Err)
	if e.RequestID != "" {
		msg += " [request id " + e.RequestID + "]"
	}
	return msg
}

// Unwrap returns the underlying cause.
func (e *DecodeError) Unwrap() error { return e.Err }

// errorBody holds every field name the clouds use for an error.
type errorBody struct {
	Code                        json.RawMessage `json:"code"`
	ErrorCode                   string          `json:"error_code"`
	Message                     string          `json:"message"`
	ErrorMsg                    string          `json:"error_msg"`
	ErrorDetail                 string          `json:"error_detail"`
	EncodedAuthorizationMessage string          `json:"encoded_authorization_message"`
	RequestID                   string          `json:"requestId"`
	RequestIDSnake              string          `json:"request_id"`
	Error                       *errorBody      `json:"error"`
}

func newAPIError(req Request, resp *Response) *APIError {
	e := &APIError{
		Service:    req.Service,
		Operation:  req.Operation,
		StatusCode: resp.StatusCode,
		RequestID:  resp.RequestID,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
	var body errorBody
	if err := json.Unmarshal(resp.Body, &body); err == nil {
		fillFromBody(e, &body)
	} else if len(resp.Body) > 0 {
		e.Message = describeOpaqueBody(resp)
	}
	if e.Message == "" && e.Code == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	e.redact(NewRedactor(req.Secrets...))
	return e
}

func fillFromBody(e *APIError, b *errorBody) {
	e.Code = firstNonEmpty(b.ErrorCode, rawString(b.Code))
	e.Message = firstNonEmpty(b.ErrorMsg, b.Message)
	e.Detail = b.ErrorDetail
	e.EncodedAuthorizationMessage = b.EncodedAuthorizationMessage
	if id := firstNonEmpty(b.RequestID, b.RequestIDSnake); id != "" && e.RequestID == "" {
		e.RequestID = id
	}
	if b.Error != nil && e.Code == "" && e.Message == "" {
		fillFromBody(e, b.Error)
	}
}

// rawString accepts a code sent as a JSON string or number.
func rawString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

func describeOpaqueBody(resp *Response) string {
	// Only well-known media types are named: the header is upstream's
	// text, and anything else in it could echo (a piece of) a secret.
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if !knownMediaTypes[mediaType] {
		mediaType = "other"
	}
	return fmt.Sprintf("%s (non-JSON %s body of %d bytes)", http.StatusText(resp.StatusCode), mediaType, len(resp.Body))
}

// knownMediaTypes are the types an error page commonly has.
var knownMediaTypes = map[string]bool{
	"text/html": true, "text/plain": true, "text/xml": true, "application/xml": true,
	"application/json": true, "application/problem+json": true, "application/octet-stream": true,
}

func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	// Saturate rather than overflow into a short or negative pause (on
	// ErrRange, Atoi gives the nearest int).
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); (err == nil || errors.Is(err, strconv.ErrRange)) && secs > 0 {
		return time.Duration(min(int64(secs), int64(math.MaxInt64/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// cut bounds text from upstream that has been redacted already.
func cut(s string) string {
	if len(s) <= maxErrorText {
		return s
	}
	n := maxErrorText
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
