package clock

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// File reads the time from a file holding one RFC 3339 timestamp, so a
// benchmark or a backtest moves a manager running in another process by
// rewriting the file. Requeue delays are capped at its poll, so
// reconcilers look at the time again within one poll of wall time after
// the file moves.
type File struct {
	path string
	poll time.Duration

	mu   sync.Mutex
	last time.Time
}

// NewFile returns a clock reading path, which must hold a time now.
func NewFile(path string, poll time.Duration) (*File, error) {
	f := &File{path: path, poll: poll}
	t, err := f.read()
	if err != nil {
		return nil, err
	}
	f.last = t
	return f, nil
}

func (f *File) read() (time.Time, error) {
	b, err := os.ReadFile(f.path)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
	if err != nil {
		return time.Time{}, fmt.Errorf("clock file %s: %w", f.path, err)
	}
	return t, nil
}

// Now returns the time the file holds, or the last time it held while it
// cannot be read (being rewritten).
func (f *File) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t, err := f.read(); err == nil {
		f.last = t
	}
	return f.last
}

// WallDuration caps d at the poll, since the file may move at any moment.
func (f *File) WallDuration(d time.Duration) time.Duration {
	return min(d, f.poll)
}

// WriteFile sets a File clock at path to t, atomically.
func WriteFile(path string, t time.Time) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(t.UTC().Format(time.RFC3339Nano)+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
