// Package huawei talks to the Huawei Cloud quota APIs of Workspace and CTS.
//
// It signs requests with the SDK-HMAC-SHA256 AK/SK algorithm of the Huawei
// API gateway (Sign), checks such signatures on the server side for the
// simulated cloud and test fakes (Verify), and decodes the quota answers
// into upstream.Amount values. Requests go through the shared
// upstream.Client, so its errors (*upstream.APIError,
// *upstream.TransportError) reach the caller unchanged; a 2xx answer of the
// wrong shape is an *upstream.DecodeError.
package huawei
