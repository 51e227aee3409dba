package huawei

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/cloudquota/cloudquota_exporter/internal/upstream"
)

// IAMTraceHeader is IAM's id of an answer; the official SDK quotes it in
// its project lookup errors, and IAM support asks for it.
const IAMTraceHeader = "X-IAM-Trace-Id"

// IAMService labels the project lookup requests and their errors.
const IAMService = "iam"

// maxListedIDs bounds the project ids an ambiguity error names.
const maxListedIDs = 5

// IAM returns a client for the IAM endpoint (e.g.
// https://iam.cn-north-4.myhuaweicloud.com) with c's credentials and
// back-off gate, for FindProject. It names no project, so its requests
// carry no X-Project-Id, as the SDK's lookup does not. A refusal of the
// credentials counts in the same gate as the data requests: IAM is behind
// the same gateway lock of the access key.
func (c *Client) IAM(endpoint *url.URL) *Client {
	iam := *c
	iam.service, iam.baseURL, iam.projectID = IAMService, *endpoint, ""
	return &iam
}

// WithProject returns c for another project, such as the one FindProject
// found.
func (c *Client) WithProject(projectID string) *Client {
	p := *c
	p.projectID = projectID
	return &p
}

// iamProject is one entry of an IAM project list.
type iamProject struct {
	id      string
	enabled bool
}

// FindProject returns the id of the project named name, which for a
// region's default project is the region id, as the official SDK finds it:
// GET /v3/projects?name= (operation "projects"), and when that is refused
// with 403 (a user without IAM read permission) GET /v3/auth/projects
// (operation "auth_projects"), which lists the projects the caller may
// access, filtered by name here. Exactly one enabled project must match;
// none, several or a disabled one is an error that says what was found
// and what to set instead.
func (c *Client) FindProject(ctx context.Context, name string) (string, error) {
	operation := "projects"
	resp, err := c.get(ctx, operation, "/v3/projects", url.Values{"name": {name}})
	scope, via := " in the account", ""
	if refused := (*upstream.APIError)(nil); errors.As(err, &refused) && refused.StatusCode == http.StatusForbidden {
		operation = "auth_projects"
		scope = " among the projects the credential may access"
		via = fmt.Sprintf(" (GET /v3/projects was refused with HTTP 403 %s, so GET /v3/auth/projects was used)", refused.Code)
		resp, err = c.get(ctx, operation, "/v3/auth/projects", nil)
	}
	if err != nil {
		return "", fmt.Errorf("iam: looking up the project named %s%s%s: %w", upstream.Quote(name), via, c.traceID(resp), err)
	}
	matches, err := decodeProjects(c.scrubBody(resp.Body), name)
	if err != nil {
		return "", c.decodeError(operation, resp, err)
	}
	trace := c.traceID(resp)
	switch {
	case len(matches) == 0:
		return "", fmt.Errorf("iam: no project named %s%s%s%s: set project_id on the target, or a region the account has a project in", upstream.Quote(name), scope, via, trace)
	case len(matches) > 1:
		ids := make([]string, 0, maxListedIDs+1)
		for _, m := range matches[:min(len(matches), maxListedIDs)] {
			ids = append(ids, upstream.Quote(m.id))
		}
		if len(matches) > maxListedIDs {
			ids = append(ids, fmt.Sprintf("and %d more", len(matches)-maxListedIDs))
		}
		return "", fmt.Errorf("iam: %d projects named %s%s: ids %s%s: set project_id on the target to one of them", len(matches), upstream.Quote(name), via, strings.Join(ids, ", "), trace)
	case !matches[0].enabled:
		return "", fmt.Errorf("iam: the project named %s (id %s) is disabled%s: enable it, or set project_id on the target to an enabled project", upstream.Quote(name), upstream.Quote(matches[0].id), trace)
	}
	return matches[0].id, nil
}

// traceID names IAM's trace id of resp for an error, redacted and
// sanitised like any upstream text, or "" when there is none.
func (c *Client) traceID(resp *upstream.Response) string {
	if resp == nil {
		return ""
	}
	id := c.redactor().Text(resp.Header.Get(IAMTraceHeader))
	if id == "" {
		return ""
	}
	return " (" + IAMTraceHeader + " " + upstream.Quote(id) + ")"
}

// decodeProjects reads {"projects": [{"id", "name", "enabled", ...}]} and
// returns the entries named name. IAM filters by name already for
// /v3/projects; filtering again costs nothing and keeps a gateway that
// ignores the parameter from handing out another project. A missing or
// null enabled counts as enabled, as the SDK ignores the field.
func decodeProjects(body []byte, name string) ([]iamProject, error) {
	fields, err := decodeObject(body)
	if err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	raw, ok := fields["projects"]
	if !ok {
		return nil, errors.New(`body has no "projects" field`)
	}
	if kind := upstream.JSONKind(raw); kind != "an array" {
		return nil, fmt.Errorf(`"projects" is %s, want an array`, kind)
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, fmt.Errorf(`"projects": %w`, err)
	}
	var matches []iamProject
	for i, elem := range elems {
		obj, err := decodeObject(elem)
		if err != nil {
			return nil, fmt.Errorf("projects[%d]: %w", i, err)
		}
		if n, err := stringField(obj, "name"); err != nil || n != name {
			continue // not the project asked for, whatever it is
		}
		p := iamProject{enabled: true}
		if p.id, err = stringField(obj, "id"); err != nil || p.id == "" {
			return nil, fmt.Errorf("projects[%d], named %s: no usable id", i, upstream.Quote(name))
		}
		switch kind := upstream.JSONKind(obj["enabled"]); kind {
		case "a boolean":
			if err := json.Unmarshal(obj["enabled"], &p.enabled); err != nil {
				return nil, fmt.Errorf("projects[%d] enabled: %w", i, err)
			}
		case "null", "empty":
		default:
			return nil, fmt.Errorf("projects[%d] enabled: is %s, want true or false", i, kind)
		}
		matches = append(matches, p)
	}
	return matches, nil
}
