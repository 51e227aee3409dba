package simcloud

import (
	"net/http"

	"github.com/cloudquota/cloudquota_exporter/internal/huawei"
)

// Operation names of the simulated IAM, for Counts, Requests and OpOf.
const (
	OpIAMProjects     = "iam_projects"
	OpIAMAuthProjects = "iam_auth_projects"
)

// iamRoutes are the IAM calls that look a project up by name.
var iamRoutes = []route{
	{OpIAMProjects, func(p string) bool { return p == "/v3/projects" }, (*Cloud).iamProjects},
	{OpIAMAuthProjects, func(p string) bool { return p == "/v3/auth/projects" }, (*Cloud).iamAuthProjects},
}

// IAMProject is a project of the simulated account as IAM lists it. ID
// usually names an entry of Cloud.Projects; Name is the region id for a
// region's default project.
type IAMProject struct {
	ID       string
	Name     string
	Disabled bool
}

// HuaweiOptions are the simulated Huawei behaviours beyond the quota data;
// set them with SetHuaweiOptions, before or while the cloud serves.
type HuaweiOptions struct {
	// IAMProjects are the account's projects, in the order IAM lists
	// them. Every key of the cloud sees all of them.
	IAMProjects []IAMProject
	// RefuseProjectList answers GET /v3/projects with 403, as IAM does
	// for a user without permission to list projects, so that clients
	// fall back to GET /v3/auth/projects.
	RefuseProjectList bool
	// NumericSiteIDs sends every site id that is a decimal integer as a
	// JSON number, as the official ShowQuotas example does, in quota and
	// site answers.
	NumericSiteIDs bool
}

// SetHuaweiOptions replaces the cloud's HuaweiOptions while it runs.
func (c *Cloud) SetHuaweiOptions(o HuaweiOptions) {
	o.IAMProjects = append([]IAMProject(nil), o.IAMProjects...)
	c.huaweiMu.Lock()
	defer c.huaweiMu.Unlock()
	c.Huawei = o
}

// huaweiOptions returns the cloud's HuaweiOptions; the zero value: an
// account without projects. It has a lock of its own: answers read it
// while they are built under c.mu.
func (c *Cloud) huaweiOptions() HuaweiOptions {
	c.huaweiMu.Lock()
	defer c.huaweiMu.Unlock()
	return c.Huawei
}

// iamProjects serves GET /v3/projects?name= (KeystoneListProjects).
func (c *Cloud) iamProjects(w http.ResponseWriter, r *http.Request, requestID string) {
	if !c.iamAuthenticate(w, r, requestID) {
		return
	}
	opts := c.huaweiOptions()
	if opts.RefuseProjectList {
		writeJSON(w, http.StatusForbidden, map[string]any{"error": map[string]any{
			"code": http.StatusForbidden, "title": "Forbidden",
			"message": "You are not authorized to perform the requested action: identity:list_projects.",
		}})
		return
	}
	name, filter := huawei.ParseQuery(r.URL.RawQuery)["name"]
	c.writeProjects(w, opts.IAMProjects, func(p IAMProject) bool { return !filter || p.Name == name[0] })
}

// iamAuthProjects serves GET /v3/auth/projects (KeystoneListAuthProjects):
// every project the caller may access, with no filter, which needs no IAM
// permission.
func (c *Cloud) iamAuthProjects(w http.ResponseWriter, r *http.Request, requestID string) {
	if !c.iamAuthenticate(w, r, requestID) {
		return
	}
	c.writeProjects(w, c.huaweiOptions().IAMProjects, func(IAMProject) bool { return true })
}

// iamAuthenticate puts the trace id on every IAM answer, refusals included,
// and plays the gateway. No X-Project-Id is expected: with one, the
// project check refuses the request, so that a client sending one is seen.
func (c *Cloud) iamAuthenticate(w http.ResponseWriter, r *http.Request, requestID string) bool {
	w.Header().Set(huawei.IAMTraceHeader, newID(16))
	return c.authenticate(w, r, "", requestID)
}

func (c *Cloud) writeProjects(w http.ResponseWriter, projects []IAMProject, keep func(IAMProject) bool) {
	out := []map[string]any{}
	for _, p := range projects {
		if !keep(p) {
			continue
		}
		out = append(out, map[string]any{
			"id": p.ID, "name": p.Name, "enabled": !p.Disabled, "is_domain": false,
			"domain_id": "simdomain", "parent_id": "simdomain", "description": "",
			"links": map[string]any{"self": "/v3/projects/" + p.ID},
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"projects": out, "links": map[string]any{"self": "/v3/projects", "next": nil, "previous": nil}})
}
