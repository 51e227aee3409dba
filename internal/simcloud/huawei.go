package simcloud

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/huawei"
)

// maxClockSkew is how far X-Sdk-Date may be from the gateway's clock.
const maxClockSkew = 15 * time.Minute

// OpWorkspaceSites names GET /v2/{project_id}/sites in Counts, Requests
// and OpOf.
const OpWorkspaceSites = "workspace_sites"

// huaweiRoutes are the Workspace and CTS routes, then IAM's.
var huaweiRoutes = append([]route{
	{OpWorkspaceQuotas, func(p string) bool { return strings.HasPrefix(p, "/v2/") && strings.HasSuffix(p, "/quotas/detail") }, (*Cloud).workspaceQuotas},
	{OpWorkspaceSites, func(p string) bool { return strings.HasPrefix(p, "/v2/") && strings.HasSuffix(p, "/sites") }, (*Cloud).workspaceSites},
	{OpCTSQuotas, func(p string) bool { return strings.HasPrefix(p, "/v3/") && strings.HasSuffix(p, "/quotas") }, (*Cloud).ctsQuotas},
}, iamRoutes...)

// huaweiError writes the Huawei error body, the gateway's or a service's.
func huaweiError(w http.ResponseWriter, status int, code, message, requestID string) {
	writeJSON(w, status, map[string]string{"error_code": code, "error_msg": message, "request_id": requestID})
}

// authenticate plays the API gateway: it checks the AK/SK signature and the
// project header, answering the gateway's error itself when they fail.
func (c *Cloud) authenticate(w http.ResponseWriter, r *http.Request, projectID, requestID string) bool {
	lookup := func(ak string) (huawei.Credentials, bool) {
		c.mu.Lock()
		defer c.mu.Unlock()
		k, ok := c.Keys[ak]
		return huawei.Credentials{AccessKey: ak, SecretKey: k.SecretKey, SecurityToken: k.SecurityToken}, ok
	}
	if err := huawei.Verify(r, nil, lookup, c.Now(), maxClockSkew); err != nil {
		c.count(OpHuaweiAuthFailure)
		code, msg := "APIGW.0301", "Incorrect IAM authentication information: verify aksk signature fail"
		var verr *huawei.VerifyError
		if errors.As(err, &verr) {
			code, msg = verr.Code, verr.Msg
		}
		huaweiError(w, http.StatusUnauthorized, code, msg, requestID)
		return false
	}
	if got := r.Header.Get("X-Project-Id"); got != "" && got != projectID {
		huaweiError(w, http.StatusForbidden, "APIGW.0302", "The IAM user is not authorized to access the API: project id mismatch", requestID)
		return false
	}
	return true
}

// projectFromPath returns {project_id} of /vN/{project_id}/suffix.
func projectFromPath(path, version, suffix string) string {
	p := strings.TrimPrefix(path, "/"+version+"/")
	p = strings.TrimSuffix(p, suffix)
	if strings.Contains(p, "/") {
		return ""
	}
	return p
}

// huaweiQuota is one element of a quota answer; nil pointers are sent as
// null, and unit is left out for CTS.
type huaweiQuota struct {
	Type  string  `json:"type"`
	Quota *uint64 `json:"quota"`
	Used  *uint64 `json:"used"`
	Unit  *string `json:"unit,omitempty"`
}

func (c *Cloud) quotas(resources []*Resource, withUnit bool) []huaweiQuota {
	elapsed := c.Now().Sub(c.start)
	out := make([]huaweiQuota, 0, len(resources))
	for _, r := range resources {
		base := r.Used
		if r.Quota != nil {
			base = *r.Quota
		}
		used := drift(r.Used, r.Swing, base, r.Quota, elapsed, c.DriftPeriod)
		q := huaweiQuota{Type: r.Type, Quota: r.Quota, Used: &used}
		if withUnit {
			unit := r.Unit
			q.Unit = &unit
		}
		out = append(out, q)
	}
	return out
}

// huaweiProject authenticates a request for /{version}/{project_id}{suffix}
// and returns its project with c.mu held; the caller must unlock. On failure
// it has answered the request itself and returns nil, unlocked.
func (c *Cloud) huaweiProject(w http.ResponseWriter, r *http.Request, requestID, version, suffix, notFoundCode string) *Project {
	projectID := projectFromPath(r.URL.Path, version, suffix)
	if !c.authenticate(w, r, projectID, requestID) {
		return nil
	}
	c.mu.Lock()
	project, ok := c.Projects[projectID]
	if !ok {
		c.mu.Unlock()
		huaweiError(w, http.StatusNotFound, notFoundCode, "project not found", requestID)
		return nil
	}
	return project
}

// workspaceQuotas serves GET /v2/{project_id}/quotas/detail.
func (c *Cloud) workspaceQuotas(w http.ResponseWriter, r *http.Request, requestID string) {
	project := c.huaweiProject(w, r, requestID, "v2", "/quotas/detail", "WKS.00000404")
	if project == nil {
		return
	}
	// Read as the gateway reads it: a "+" is a plus sign, not a space.
	site := huawei.ParseQuery(r.URL.RawQuery).Get("site_id")
	if site == "" {
		site = project.DefaultSite
	}
	resources, ok := project.Sites[site]
	if !ok {
		c.mu.Unlock()
		huaweiError(w, http.StatusNotFound, "WKS.00000404", "site not found: "+site, requestID)
		return
	}
	answer := map[string]any{"resources": c.quotas(resources, true), "site_id": c.siteIDValue(site)}
	c.mu.Unlock() // not held while writing: a slow reader must not stall the cloud
	writeJSON(w, http.StatusOK, answer)
}

// workspaceSites serves GET /v2/{project_id}/sites (ListSiteConfigs): the
// project's sites in id order, the default one as the central site.
func (c *Cloud) workspaceSites(w http.ResponseWriter, r *http.Request, requestID string) {
	project := c.huaweiProject(w, r, requestID, "v2", "/sites", "WKS.00000404")
	if project == nil {
		return
	}
	projectID := projectFromPath(r.URL.Path, "v2", "/sites")
	ids := slices.Sorted(maps.Keys(project.Sites))
	infos := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		siteType := "IES"
		if id == project.DefaultSite {
			siteType = "CENTER"
		}
		infos = append(infos, map[string]any{
			"site_id": c.siteIDValue(id), "site_name": id, "site_type": siteType,
			"project_id": projectID, "status": "AVAILABLE", "create_time": c.start.UTC().Format(time.RFC3339),
		})
	}
	c.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"site_infos": infos, "total_count": len(infos)})
}

// siteIDValue is a site id as Workspace sends it: a JSON number, as in the
// official example, when NumericSiteIDs is on and the id is one.
func (c *Cloud) siteIDValue(id string) any {
	if !c.huaweiOptions().NumericSiteIDs || id == "" || (len(id) > 1 && id[0] == '0') {
		return id
	}
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		return id
	}
	return json.Number(id)
}

// ctsQuotas serves GET /v3/{project_id}/quotas.
func (c *Cloud) ctsQuotas(w http.ResponseWriter, r *http.Request, requestID string) {
	project := c.huaweiProject(w, r, requestID, "v3", "/quotas", "CTS.0001")
	if project == nil {
		return
	}
	answer := map[string]any{"resources": c.quotas(project.CTS, false)}
	c.mu.Unlock()
	writeJSON(w, http.StatusOK, answer)
}
