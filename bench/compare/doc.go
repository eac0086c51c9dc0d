// Package compare benchmarks ringlimit's window.Store beside
// golang.org/x/time/rate (one limiter per key behind a sharded map) and
// github.com/sethvargo/go-limiter's memorystore, on the same workloads and
// under the same benchmark names as window's own benchmarks, with the
// library as an extra level: BenchmarkCheck/lib=ringlimit/keys=10000.
//
// It is a module of its own so that the product's go.mod stays lean:
//
//	cd bench/compare && go test -run '^$' -bench . -benchmem
package compare
