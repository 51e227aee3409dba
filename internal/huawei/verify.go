package huawei

import (
	"crypto/hmac"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Gateway error codes returned by Verify.
const (
	// CodeAuthFailed covers a missing or malformed Authorization, an
	// unknown access key, a wrong security token and a wrong signature.
	CodeAuthFailed = "APIGW.0301"
	// CodeBadDate covers a missing, malformed or too skewed X-Sdk-Date.
	CodeBadDate = "APIGW.0303"
)

// DefaultMaxSkew is the clock difference the Huawei gateway tolerates
// between X-Sdk-Date and its own clock.
const DefaultMaxSkew = 15 * time.Minute

const authFailPrefix = "Incorrect IAM authentication information: "

// VerifyError is a refusal by Verify, with the gateway's code and message.
type VerifyError struct {
	Code string
	Msg  string
}

// Error returns the code and the message.
func (e *VerifyError) Error() string { return e.Code + ": " + e.Msg }

// HTTPStatus is the status the gateway answers with: 401 for every
// authentication refusal.
func (e *VerifyError) HTTPStatus() int { return http.StatusUnauthorized }

func authError(detail string) *VerifyError {
	return &VerifyError{Code: CodeAuthFailed, Msg: authFailPrefix + detail}
}

func dateError(detail string) *VerifyError {
	return &VerifyError{Code: CodeBadDate, Msg: authFailPrefix + detail}
}

// Verify checks the SDK-HMAC-SHA256 signature of r, the server side of
// Sign, for the simulated cloud and test fakes. body is the request body
// already read from r. lookup returns the credentials of an access key.
// maxSkew bounds the distance between X-Sdk-Date and now; 0 or less means
// DefaultMaxSkew. A refusal is a *VerifyError.
func Verify(r *http.Request, body []byte, lookup func(accessKey string) (Credentials, bool), now time.Time, maxSkew time.Duration) error {
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	accessKey, signedList, sig, ok := parseAuthorization(r.Header.Get("Authorization"))
	if !ok {
		return authError("Authorization header is missing or malformed")
	}
	creds, found := lookup(accessKey)
	if !found || creds.SecretKey == "" {
		return authError("access key not found")
	}

	headers := lowerHeaders(r.Header)
	dates, ok := headers["x-sdk-date"]
	if !ok {
		return dateError("X-Sdk-Date header is missing")
	}
	date := headerValue(dates)
	t, err := time.Parse(DateLayout, date)
	if err != nil {
		return dateError("X-Sdk-Date header is not in the " + DateLayout + " format")
	}
	if skew := now.Sub(t); skew > maxSkew || skew < -maxSkew {
		return dateError("X-Sdk-Date is too far from the server time")
	}

	signed := strings.Split(signedList, ";")
	if !slices.Contains(signed, "x-sdk-date") {
		return authError("x-sdk-date is not a signed header")
	}
	if err := checkSecurityToken(headers, signed, creds.SecurityToken); err != nil {
		return err
	}
	if slices.Contains(signed, "host") {
		// The server moves Host out of the header map into r.Host.
		headers["host"] = []string{r.Host}
	}
	for _, name := range signed {
		if _, present := headers[name]; !present || name != strings.ToLower(name) {
			return authError("signed header " + name + " is missing")
		}
	}

	canonical := canonicalRequest(r.Method, r.URL.EscapedPath(), ParseQuery(r.URL.RawQuery), headers, signed, hashHex(body))
	want := signature(creds.SecretKey, date, canonical)
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(sig))) {
		return authError("verify aksk signature fail")
	}
	return nil
}

// checkSecurityToken requires the token of temporary credentials, signed,
// and refuses a token sent with permanent ones.
func checkSecurityToken(headers map[string][]string, signed []string, want string) error {
	got, present := headers["x-security-token"]
	if want == "" {
		if present {
			return authError("security token sent with permanent credentials")
		}
		return nil
	}
	if !present || !slices.Contains(signed, "x-security-token") ||
		!hmac.Equal([]byte(headerValue(got)), []byte(want)) {
		return authError("security token is missing, unsigned or wrong")
	}
	return nil
}

// parseAuthorization splits
// "SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex".
func parseAuthorization(v string) (accessKey, signedHeaders, signature string, ok bool) {
	rest, found := strings.CutPrefix(v, SigningAlgorithm+" ")
	if !found {
		return "", "", "", false
	}
	for part := range strings.SplitSeq(rest, ",") {
		key, value, found := strings.Cut(strings.TrimSpace(part), "=")
		if !found {
			return "", "", "", false
		}
		switch key {
		case "Access":
			accessKey = value
		case "SignedHeaders":
			signedHeaders = value
		case "Signature":
			signature = value
		default:
			return "", "", "", false
		}
	}
	ok = accessKey != "" && signedHeaders != "" && signature != ""
	return accessKey, signedHeaders, signature, ok
}
