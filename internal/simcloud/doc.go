// Package simcloud is a simulated cloud on loopback that speaks the three
// APIs the exporter polls, the way the clouds do: Tencent SMH's token and
// usage routes (tokens expire; a stale one gets 403 InvalidAccessToken) and
// Huawei's Workspace and CTS quota routes behind an API gateway that checks
// SDK-HMAC-SHA256 signatures (a wrong one gets the gateway's 401 body).
//
// The tests use it as their fake upstream: they read what it received from
// its request log (Record, Requests), inject faults with SetHook, and move
// its clock (Now). --demo runs it with built-in data whose usage drifts
// slowly, so that graphs and alerts have something to show.
package simcloud
