// Package testutil holds the helpers that the tests of every package share:
// a clock moved by hand, a log sink safe for concurrent writers, polling for
// a condition, and the secret-leak checks. Each exists once here so that no
// test package grows its own copy.
package testutil
