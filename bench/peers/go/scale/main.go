// Command scale measures what gort's scale_bench measures, for Go 1.19:
//
//	scale park N           park N goroutines on a channel; print the RSS they
//	                       add, per goroutine
//	scale children N CHILD start N children of CHILD ("CHILD sleep MS"), each
//	                       waited for by its own goroutine; print the peak
//	                       number of OS threads while they run
//
// Each prints one JSON object on stdout.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// status reads a "Name:  value" field of /proc/self/status (kB or a count).
func status(name string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		panic(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+":") {
			f := strings.Fields(line[len(name)+1:])
			v, _ := strconv.ParseInt(f[0], 10, 64)
			return v
		}
	}
	return -1
}

func park(n int) map[string]any {
	runtime.GC()
	before := status("VmRSS")
	block := make(chan struct{})
	var started sync.WaitGroup
	started.Add(n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			<-block
		}()
	}
	started.Wait()
	spawn := time.Since(t0)
	runtime.GC()
	after := status("VmRSS")
	close(block)
	return map[string]any{
		"fibers": n, "rss_before_kib": before, "rss_after_kib": after,
		"kib_per_fiber": float64(after-before) / float64(n),
		"spawn_s":       spawn.Seconds(),
	}
}

func children(n int, child string) map[string]any {
	var wg sync.WaitGroup
	var failed int32
	var peak int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		for {
			if t := status("Threads"); t > peak {
				peak = t
			}
			select {
			case <-stop:
				close(sampled)
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	attr := &os.ProcAttr{}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := os.StartProcess(child, []string{child, "sleep", "1500"}, attr)
			if err != nil {
				atomic.StoreInt32(&failed, 1)
				return
			}
			if _, err := p.Wait(); err != nil {
				atomic.StoreInt32(&failed, 1)
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	return map[string]any{"children": n, "threads_peak": peak, "failed": failed != 0,
		"wall_s": time.Since(t0).Seconds(), "gomaxprocs": runtime.GOMAXPROCS(0)}
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: scale park N | scale children N CHILD")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil {
		panic(err)
	}
	var out map[string]any
	switch os.Args[1] {
	case "park":
		out = park(n)
	case "children":
		out = children(n, os.Args[3])
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
	json.NewEncoder(os.Stdout).Encode(out)
}
