// Go 1.19 twins of gort's benchmarks (bench/*_bench.cc), run side by side by
// bench/harness/run.py. Each has its gort twin's name with Benchmark for BM_
// and reports what its twin reports (ns per yield, per round trip, per
// fiber; children per second), so that the ratios compare like with like.
// GOMAXPROCS is set inside each benchmark to its twin's procs (the -2 suffix
// of the names is go test's, from the GOMAXPROCS it started with). The child
// is gort's static no-op test child, passed as $GORT_TESTCHILD.
package peers

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// withProcs runs f at GOMAXPROCS=n and restores the setting.
func withProcs(n int, f func()) {
	old := runtime.GOMAXPROCS(n)
	defer runtime.GOMAXPROCS(old)
	f()
}

// perOp reports elapsed/(b.N*k) as the metric unit (ns per yield, ...).
func perOp(b *testing.B, elapsed time.Duration, k int, unit string) {
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N*k), unit)
}

// --- runtime (runtime_bench.cc) ------------------------------------------------

// Two goroutines on one P yielding to each other; an iteration is two yields.
func BenchmarkGosched(b *testing.B) {
	withProcs(1, func() {
		var stop int32
		done := make(chan struct{})
		go func() {
			for atomic.LoadInt32(&stop) == 0 {
				runtime.Gosched()
			}
			close(done)
		}()
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			runtime.Gosched()
		}
		elapsed := time.Since(start)
		b.StopTimer()
		atomic.StoreInt32(&stop, 1)
		<-done
		perOp(b, elapsed, 2, "ns/yield")
	})
}

// Start goroutines that complete, in batches of 1000; the batch waits on a
// counter and one wake-up, as gort's twin does.
func BenchmarkCreateGoroutines(b *testing.B) {
	const batch = 1000
	for _, procs := range []int{1, 2} {
		b.Run(strconv.Itoa(procs), func(b *testing.B) {
			withProcs(procs, func() {
				done := make(chan struct{}, 1)
				var left int64
				b.ResetTimer()
				start := time.Now()
				for i := 0; i < b.N; i += batch {
					n := batch
					if b.N-i < n {
						n = b.N - i
					}
					atomic.StoreInt64(&left, int64(n))
					for j := 0; j < n; j++ {
						go func() {
							if atomic.AddInt64(&left, -1) == 0 {
								done <- struct{}{}
							}
						}()
					}
					<-done
				}
				perOp(b, time.Since(start), 1, "ns/fiber")
			})
		})
	}
}

// A locked goroutine and a plain one bounce a token over unbuffered channels.
func BenchmarkLockedPingPong(b *testing.B) {
	withProcs(2, func() {
		ping, pong := make(chan bool), make(chan bool)
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for <-ping {
				pong <- true
			}
		}()
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			ping <- true
			<-pong
		}
		elapsed := time.Since(start)
		b.StopTimer()
		ping <- false
		perOp(b, elapsed, 1, "ns/round_trip")
	})
}

// --- channels and select (chan_bench.cc) ---------------------------------------

func BenchmarkChanSync(b *testing.B) {
	withProcs(1, func() {
		ping, pong := make(chan int), make(chan int)
		go func() {
			for v := range ping {
				pong <- v
			}
		}()
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			ping <- 1
			<-pong
		}
		elapsed := time.Since(start)
		b.StopTimer()
		close(ping)
		perOp(b, elapsed, 1, "ns/round_trip")
	})
}

func BenchmarkChanProdCons(b *testing.B) {
	for _, capacity := range []int{0, 10, 100} {
		b.Run(strconv.Itoa(capacity), func(b *testing.B) {
			withProcs(2, func() {
				c, done := make(chan int, capacity), make(chan bool)
				go func() {
					for range c {
					}
					done <- true
				}()
				b.ResetTimer()
				start := time.Now()
				for i := 0; i < b.N; i++ {
					c <- 1
				}
				elapsed := time.Since(start)
				close(c)
				<-done
				perOp(b, elapsed, 1, "ns/item")
			})
		})
	}
}

// A select over two buffered channels of which one is ready, then a refill.
func BenchmarkSelectUncontended(b *testing.B) {
	withProcs(1, func() {
		x, y := make(chan int, 1), make(chan int, 1)
		x <- 0
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			select {
			case <-x:
				y <- 0
			case <-y:
				x <- 0
			}
		}
		perOp(b, time.Since(start), 1, "ns/op")
	})
}

func BenchmarkSelectProdCons(b *testing.B) {
	withProcs(2, func() {
		c, never, quit := make(chan int, 10), make(chan int), make(chan int)
		done := make(chan bool)
		go func() {
			for {
				select {
				case <-c:
				case <-quit:
					done <- true
					return
				}
			}
		}()
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			select {
			case c <- 1:
			case never <- 0:
			}
		}
		elapsed := time.Since(start)
		b.StopTimer()
		close(quit)
		<-done
		perOp(b, elapsed, 1, "ns/op")
	})
}

// --- sync (sync_bench.cc) -------------------------------------------------------

func BenchmarkMutexUncontended(b *testing.B) {
	withProcs(1, func() {
		var mu sync.Mutex
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			mu.Lock()
			mu.Unlock()
		}
		perOp(b, time.Since(start), 1, "ns/op")
	})
}

//go:noinline
func spin(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += i
	}
	return s
}

// 4 goroutines on 2 Ps share one Mutex, a little work inside and outside.
func BenchmarkMutexContended(b *testing.B) {
	const work = 20
	withProcs(2, func() {
		var mu sync.Mutex
		var stop int32
		var wg sync.WaitGroup
		shared := 0
		for g := 0; g < 3; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for atomic.LoadInt32(&stop) == 0 {
					mu.Lock()
					spin(work)
					shared++
					mu.Unlock()
					spin(work)
				}
			}()
		}
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			mu.Lock()
			spin(work)
			shared++
			mu.Unlock()
			spin(work)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		atomic.StoreInt32(&stop, 1)
		wg.Wait()
		perOp(b, elapsed, 1, "ns/op")
	})
}

// Go's benchmarkRWMutex(b, 100, 100) shape, as sync_bench's twin: 4
// goroutines; every 100th operation writes, the others read with 100 units
// of work under the read lock. The main goroutine's operations are timed.
func BenchmarkRWMutexReadMostly(b *testing.B) {
	const writeRatio, readWork = 100, 100
	for _, procs := range []int{2, 4} {
		b.Run(strconv.Itoa(procs), func(b *testing.B) {
			withProcs(procs, func() {
				var rw sync.RWMutex
				var stop int32
				var wg sync.WaitGroup
				shared := 0
				op := func(i *int) {
					*i++
					if *i%writeRatio == 0 {
						rw.Lock()
						shared++
						rw.Unlock()
					} else {
						rw.RLock()
						spin(readWork)
						_ = shared
						rw.RUnlock()
					}
				}
				for g := 0; g < 3; g++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						i := 0
						for atomic.LoadInt32(&stop) == 0 {
							op(&i)
						}
					}()
				}
				i := 0
				b.ResetTimer()
				start := time.Now()
				for n := 0; n < b.N; n++ {
					op(&i)
				}
				elapsed := time.Since(start)
				b.StopTimer()
				atomic.StoreInt32(&stop, 1)
				wg.Wait()
				perOp(b, elapsed, 1, "ns/op")
			})
		})
	}
}

// One cancel waking 10 000 goroutines parked on ctx.Done(); the parking is
// untimed, the cancel and the last wake-up are timed (ns per fan-out).
func BenchmarkContextCancelFanOut(b *testing.B) {
	const fanOut = 10000
	for _, procs := range []int{1, 2} {
		b.Run(strconv.Itoa(procs), func(b *testing.B) {
			withProcs(procs, func() {
				var total time.Duration
				for n := 0; n < b.N; n++ {
					ctx, cancel := context.WithCancel(context.Background())
					var parked, woke sync.WaitGroup
					parked.Add(fanOut)
					woke.Add(fanOut)
					for i := 0; i < fanOut; i++ {
						go func() {
							parked.Done()
							<-ctx.Done()
							woke.Done()
						}()
					}
					parked.Wait()
					for k := 0; k < 100; k++ {
						runtime.Gosched()
					}
					start := time.Now()
					cancel()
					woke.Wait()
					total += time.Since(start)
				}
				b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns/fanout")
			})
		})
	}
}

// At 1 P, how late a 1 ms sleeper wakes while another goroutine computes in
// 50 ms stretches (Go preempts it asynchronously after 10 ms).
func BenchmarkSchedLatencyWhileSpinning(b *testing.B) {
	withProcs(1, func() {
		var stop int32
		done := make(chan struct{})
		go func() {
			for atomic.LoadInt32(&stop) == 0 {
				until := time.Now().Add(50 * time.Millisecond)
				for time.Now().Before(until) {
				}
				runtime.Gosched()
			}
			close(done)
		}()
		var total, worst time.Duration
		for n := 0; n < b.N; n++ {
			due := time.Now().Add(time.Millisecond)
			time.Sleep(time.Millisecond)
			late := time.Since(due)
			total += late
			if late > worst {
				worst = late
			}
		}
		atomic.StoreInt32(&stop, 1)
		<-done
		b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns_late")
		b.ReportMetric(float64(worst.Microseconds())/1000, "worst_ms")
	})
}

// --- processes, exec and pipes (process_bench.cc, exec_bench.cc, poll_bench.cc) --

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
	for _, spawners := range []int{1, 2, 4, 16, 64} {
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

// Two goroutines bounce one byte through two os.Pipes, at 1 and 2 Ps.
func BenchmarkPipePingPong(b *testing.B) {
	for _, procs := range []int{1, 2} {
		b.Run(strconv.Itoa(procs), func(b *testing.B) {
			withProcs(procs, func() { pipePingPong(b) })
		})
	}
}

func pipePingPong(b *testing.B) {
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
