// Go 1.19 counterparts of gort's benchmarks, for the side-by-side runs in
// bench/peers/run.sh. Each reports what its gort twin reports (children per
// second, ns per round trip), so that the ratios compare like with like.
// The child is gort's static no-op test child, passed as $GORT_TESTCHILD.
package peers

import (
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func child(b *testing.B) string {
	p := os.Getenv("GORT_TESTCHILD")
	if p == "" {
		b.Skip("GORT_TESTCHILD is not set")
	}
	return p
}

// spawnLoop runs b.N children over `spawners` goroutines, as gort's
// StartWaitLoop does over fibers.
func spawnLoop(b *testing.B, spawners int, one func() error) {
	var left int64 = int64(b.N)
	var failed int32
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for s := 0; s < spawners; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for atomic.AddInt64(&left, -1) >= 0 {
				if err := one(); err != nil {
					atomic.StoreInt32(&failed, 1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if failed != 0 {
		b.Fatal("a child failed")
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "children/s")
}

func BenchmarkExecCommandRun(b *testing.B) {
	path := child(b)
	for _, spawners := range []int{1, 16} {
		b.Run(strconv.Itoa(spawners), func(b *testing.B) {
			spawnLoop(b, spawners, func() error { return exec.Command(path).Run() })
		})
	}
}

func BenchmarkExecCommandOutput1MiB(b *testing.B) {
	path := child(b)
	for _, spawners := range []int{1, 16} {
		b.Run(strconv.Itoa(spawners), func(b *testing.B) {
			spawnLoop(b, spawners, func() error {
				out, err := exec.Command(path, "write", "1048576").Output()
				if err == nil && len(out) != 1<<20 {
					return os.ErrInvalid
				}
				return err
			})
		})
	}
}

func BenchmarkStartProcessWait(b *testing.B) {
	path := child(b)
	attr := &os.ProcAttr{}
	for _, spawners := range []int{1, 16} {
		b.Run(strconv.Itoa(spawners), func(b *testing.B) {
			spawnLoop(b, spawners, func() error {
				p, err := os.StartProcess(path, []string{path}, attr)
				if err != nil {
					return err
				}
				_, err = p.Wait()
				return err
			})
		})
	}
}

// Two goroutines bounce one byte through two os.Pipes.
func BenchmarkPipePingPong(b *testing.B) {
	ar, aw, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	br, bw, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		buf := make([]byte, 1)
		for {
			if _, err := ar.Read(buf); err != nil || buf[0] == 'q' {
				close(done)
				return
			}
			bw.Write(buf)
		}
	}()
	buf := []byte{'p'}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		aw.Write(buf)
		br.Read(buf)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	aw.Write([]byte{'q'})
	<-done
	for _, f := range []*os.File{ar, aw, br, bw} {
		f.Close()
	}
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N), "ns/round_trip")
}
