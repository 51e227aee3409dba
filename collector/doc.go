// Package collector turns the configured targets into metrics on every
// scrape. Each upstream service (smh.go, workspace.go, cts.go) is one unit
// that holds its metric families, builds a target's poll from the
// configuration and turns the answer into samples; services.go registers
// them by name. Around them sit the mechanisms every service shares: polls
// that concurrent scrapes join, cache_ttl, pauses after upstream throttles
// a target, per-credential back-off gates, the status page's data, and the
// state (tokens, gates, cached answers) kept across configuration reloads.
//
// The collector knows nothing of HTTP or request signing: provider clients
// (internal/smh, internal/huawei) return plain Go values, and the collector
// knows nothing of secrets beyond handing credentials to those clients.
package collector
