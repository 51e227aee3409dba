package testutil

import (
	"bytes"
	"sync"
)

// SyncBuffer is a log sink that tests may read while the code under test
// writes to it from several goroutines.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Len is the number of bytes written so far, an offset for Since.
func (b *SyncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// Since returns what was written after offset.
func (b *SyncBuffer) Since(offset int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if offset > len(s) {
		return ""
	}
	return s[offset:]
}
