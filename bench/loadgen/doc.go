// Package loadgen is ringlimit's HTTP load generator (ringlimit bench).
//
// [Run] sends rate-limit checks (POST /check with a JSON body, batched
// {"checks":[...]}, or GET /check?key=&cost=) to one or more nodes over
// fasthttp's HostClient and measures requests, decisions (allowed,
// denied), errors by kind and a latency [Histogram]. Each of
// Options.Connections workers reuses one request and one response, so the
// send loop allocates nothing per request.
//
// In a closed loop (the default) every worker sends its next request when
// the previous one is answered. With Options.Rate it runs an open loop:
// send times are fixed in advance on a grid of 1/Rate, each latency
// counts from the intended send time, and a server that stalls is charged
// for every request it delayed (no coordinated omission).
//
// A run is always bounded (Options.Duration or Options.Requests, and a
// hard cap Options.MaxTime) and refuses targets that are not on the
// loopback interface unless Options.AllowRemote is set.
//
// [Main] is the command line; cmd/ringlimit calls it for "ringlimit bench".
package loadgen
