package decisionlog_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/authz/internal/decisionlog"
)

// bulkyEntry is a decision whose line is about size bytes, so that a few of
// them fill a rotated file or the logger's batch.
func bulkyEntry(id string, size int) decisionlog.Entry {
	return decisionlog.Entry{
		DecisionID: id, Time: time.Unix(1700000000, 0).UTC(), Result: "allow",
		Input: map[string]any{"pad": strings.Repeat("x", size)},
	}
}

// TestRotationUnderLoad: goroutines logging as fast as they can onto a
// small rotating file leave a set of files that each end on a whole line
// and verify as one chain, oldest first. Most lines are small; some are
// larger than the logger's whole batch, which must reach the file alone.
func TestRotationUnderLoad(t *testing.T) {
	const (
		workers   = 8
		perWorker = 400
		backups   = 5
	)
	p := filepath.Join(t.TempDir(), "decisions.log")
	rf, err := decisionlog.OpenRotating(p, 32<<10, backups)
	if err != nil {
		t.Fatal(err)
	}
	c := &counters{}
	// The queue holds every line, so none is dropped and the writer is
	// always behind: its batches fill rather than run dry.
	l := decisionlog.New(rf, "", workers*perWorker, c)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				size := 700 + (i*37+w*11)%900
				if i%97 == 0 {
					size = 80 << 10 // more than a batch
				}
				l.Log(bulkyEntry(fmt.Sprintf("w%d-%d", w, i), size))
			}
		})
	}
	wg.Wait()
	l.Close()
	if err := rf.Close(); err != nil {
		t.Fatal(err)
	}
	if c.errors.Load() != 0 || c.dropped.Load() != 0 {
		t.Fatalf("write errors %d, dropped %d", c.errors.Load(), c.dropped.Load())
	}

	var files []string
	for i := backups; i >= 1; i-- {
		files = append(files, fmt.Sprintf("%s.%d", p, i))
	}
	files = append(files, p)
	lines := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("rotation did not fill every backup: %v", err)
		}
		if len(b) == 0 || b[len(b)-1] != '\n' {
			t.Errorf("%s does not end on a whole line", filepath.Base(f))
		}
		lines += bytes.Count(b, []byte{'\n'})
	}
	v, err := decisionlog.Verify(files, open)
	if err != nil {
		t.Fatalf("rotated set does not verify: %v", err)
	}
	if v.Lines != lines {
		t.Errorf("verified %d lines of %d", v.Lines, lines)
	}
	// The first lines rotated away, so the oldest file continues a chain.
	if !v.Continues {
		t.Error("oldest file starts at genesis although files were rotated away")
	}
}

// recordingWriter keeps each Write apart.
type recordingWriter struct {
	blockingWriter
	writes [][]byte
}

func (r *recordingWriter) Write(p []byte) (int, error) {
	n, err := r.blockingWriter.Write(p)
	r.mu.Lock()
	r.writes = append(r.writes, bytes.Clone(p))
	r.mu.Unlock()
	return n, err
}

// TestSinkReceivesWholeLines: with a backlog far larger than one batch,
// every Write carries whole lines, and a line larger than a batch is
// written alone.
func TestSinkReceivesWholeLines(t *testing.T) {
	w := &recordingWriter{blockingWriter: blockingWriter{release: make(chan struct{}), stuck: make(chan struct{})}}
	l := decisionlog.New(w, "", 1000, &counters{})
	l.Log(bulkyEntry("first", 10))
	// The writer is stuck in the sink: the rest queues up behind it.
	<-w.stuck
	for i := range 300 {
		size := 1000 + i*7
		if i%50 == 0 {
			size = 100 << 10
		}
		l.Log(bulkyEntry(fmt.Sprint(i), size))
	}
	close(w.release)
	l.Close()

	lines := 0
	for i, p := range w.writes {
		if len(p) == 0 || p[len(p)-1] != '\n' {
			t.Fatalf("write %d of %d bytes ends mid-line", i, len(p))
		}
		n := bytes.Count(p, []byte{'\n'})
		if len(p) > 64<<10 && n != 1 {
			t.Errorf("write %d is %d bytes of %d lines: a line larger than the batch must go alone", i, len(p), n)
		}
		lines += n
	}
	if lines != 301 {
		t.Errorf("sink received %d lines, want 301", lines)
	}
	if len(w.writes) < 10 {
		t.Errorf("%d writes: the backlog was not batched", len(w.writes))
	}
}
