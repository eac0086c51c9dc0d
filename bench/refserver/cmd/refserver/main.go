// Command refserver runs the bare fasthttp reference server of ringlimit's
// benchmarks (see package refserver) until SIGINT or SIGTERM.
//
//	refserver --addr 127.0.0.1:8090
//
// With port 0 it picks a free port; the address it listens on is printed
// on stdout ("listening on 127.0.0.1:PORT") and, with --addr-file, written
// to that file once the server accepts connections.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ringlimit/ringlimit/bench/refserver"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen `address`")
	addrFile := flag.String("addr-file", "", "write the listen address to this `file`")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := refserver.Start(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "refserver:", err)
		os.Exit(1)
	}
	fmt.Println("listening on", s.Addr())
	if *addrFile != "" {
		tmp := *addrFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(s.Addr()+"\n"), 0o644); err == nil {
			err = os.Rename(tmp, *addrFile)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "refserver:", err)
			s.Close()
			os.Exit(1)
		}
	}
	select {
	case <-ctx.Done():
	case <-s.Done():
	}
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "refserver:", err)
		os.Exit(1)
	}
}
