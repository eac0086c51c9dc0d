package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/ringlimit/ringlimit/server"
)

// clientConfig is what every operator command takes.
type clientConfig struct {
	Addr    string
	Token   string
	Timeout time.Duration
	JSON    bool
}

func (c *clientConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "addr", server.DefaultAddr, "`host:port` (or http://host:port) of any node [$RINGLIMIT_ADDR]")
	fs.StringVar(&c.Token, "token", "", "admin `token`, sent as \"Authorization: Bearer\" [$RINGLIMIT_TOKEN]")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Second, "time the request may take")
	fs.BoolVar(&c.JSON, "json", false, "print the server's JSON instead of a table")
}

// clientEnv are the flags of operator commands that read the environment.
var clientEnv = map[string]bool{"addr": true, "token": true}

func runClient(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	var cc clientConfig
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cc.flags(fs)
	var (
		cost, limit int64
		win         time.Duration
		prefix      string
		pageSize    int
		synopsis    string
		nargs       int
	)
	switch cmd {
	case "check":
		fs.Int64Var(&cost, "cost", 1, "cost of the check (0 only looks)")
		fs.Int64Var(&limit, "limit", 0, "limit (default: the node's --default-limit)")
		fs.DurationVar(&win, "window", 0, "window, e.g. 1m (default: the node's --default-window)")
		synopsis, nargs = "ringlimit check KEY [flags]\n\nExit status: 0 allowed, 3 denied, 1 error.", 1
	case "counters":
		fs.StringVar(&prefix, "prefix", "", "only keys starting with `P`")
		fs.IntVar(&pageSize, "page-size", server.MaxListLimit, "counters fetched per request")
		synopsis = "ringlimit counters [flags]"
	case "reset":
		synopsis, nargs = "ringlimit reset KEY [flags]", 1
	case "status":
		synopsis = "ringlimit status [flags]"
	}
	fs.Usage = usage(fs, synopsis, false)
	pos, err := parseInterspersed(fs, args)
	if err == nil {
		err = envForClient(fs, lookupEnv)
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "ringlimit %s: %v\n", cmd, err)
		return exitUsage
	}
	if len(pos) != nargs {
		fmt.Fprintf(stderr, "ringlimit %s: want %d argument(s), got %d\n", cmd, nargs, len(pos))
		fs.Usage()
		return exitUsage
	}
	c, err := newClient(cc)
	if err != nil {
		fmt.Fprintf(stderr, "ringlimit %s: %v\n", cmd, err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, cc.Timeout)
	defer cancel()

	switch cmd {
	case "check":
		if win != 0 && (win < time.Millisecond || win%time.Millisecond != 0) {
			fmt.Fprintf(stderr, "ringlimit check: --window %s: want whole milliseconds\n", win)
			return exitUsage
		}
		return c.check(ctx, pos[0], cost, limit, win, stdout, stderr)
	case "counters":
		return c.counters(ctx, prefix, pageSize, stdout, stderr)
	case "reset":
		return c.reset(ctx, pos[0], stdout, stderr)
	default:
		return c.status(ctx, stdout, stderr)
	}
}

// parseInterspersed parses flags that may come before or after the
// positional arguments ("check KEY --cost 2"). After "--" every argument
// is positional, so a key may start with '-'.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// envForClient sets --addr and --token from the environment when not given.
func envForClient(fs *flag.FlagSet, lookupEnv func(string) (string, bool)) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for name := range clientEnv {
		if given[name] {
			continue
		}
		env := "RINGLIMIT_" + strings.ToUpper(name)
		if v, ok := lookupEnv(env); ok {
			if err := fs.Set(name, v); err != nil {
				return fmt.Errorf("%s: %w", env, err)
			}
		}
	}
	return nil
}

// client talks to one node's HTTP API.
type client struct {
	cfg  clientConfig
	base *url.URL
	http *http.Client
}

func newClient(cfg clientConfig) (*client, error) {
	addr := cfg.Addr
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("--addr %q: want host:port or http://host:port", cfg.Addr)
	}
	return &client{cfg: cfg, base: u, http: &http.Client{}}, nil
}

// apiError is an error answer of the API.
type apiError struct {
	status  int
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.status, e.Code, e.Message)
}

// do sends a request to path (already escaped) and returns the answer's
// body; a status of 400 or more is returned as an *apiError.
func (c *client) do(ctx context.Context, method, path string, body []byte) (int, http.Header, []byte, error) {
	p, q, _ := strings.Cut(path, "?")
	u := &url.URL{Scheme: c.base.Scheme, Host: c.base.Host, RawQuery: q,
		Opaque: strings.TrimRight(c.base.EscapedPath(), "/") + p} // sent as is, escapes included
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.Scheme+"://"+c.base.Host+"/", rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.URL = u
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, nil, fmt.Errorf("%s %s://%s%s: %w", method, u.Scheme, u.Host, u.RequestURI(), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, nil, nil, err
	}
	if resp.StatusCode >= 400 && resp.StatusCode != http.StatusTooManyRequests {
		var e struct {
			Error apiError `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error.Code == "" {
			return 0, nil, nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
		}
		e.Error.status = resp.StatusCode
		return 0, nil, nil, &e.Error
	}
	return resp.StatusCode, resp.Header, b, nil
}

func fail(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "ringlimit %s: %v\n", cmd, err)
	return exitError
}

type decision struct {
	Key          string `json:"key"`
	Allowed      bool   `json:"allowed"`
	Limit        int64  `json:"limit"`
	Remaining    int64  `json:"remaining"`
	Count        int64  `json:"count"`
	WindowMS     int64  `json:"window_ms"`
	ResetAfterMS int64  `json:"reset_after_ms"`
	RetryAfterMS int64  `json:"retry_after_ms"`
}

func (c *client) check(ctx context.Context, key string, cost, limit int64, win time.Duration, stdout, stderr io.Writer) int {
	req := map[string]any{"key": key, "cost": cost}
	if limit != 0 {
		req["limit"] = limit
	}
	if win != 0 {
		req["window_ms"] = win.Milliseconds()
	}
	body, _ := json.Marshal(req)
	_, _, b, err := c.do(ctx, http.MethodPost, "/check", body)
	if err != nil {
		return fail(stderr, "check", err)
	}
	var d decision
	if err := json.Unmarshal(b, &d); err != nil {
		return fail(stderr, "check", fmt.Errorf("bad answer %q: %w", b, err))
	}
	if c.cfg.JSON {
		stdout.Write(append(b, '\n')) //nolint:errcheck
	} else {
		verdict := "allowed"
		if !d.Allowed {
			verdict = "denied"
		}
		fmt.Fprintf(stdout, "%s %s: %d/%d used, %d remaining, window %s, resets in %s",
			verdict, printable(d.Key), d.Count, d.Limit, d.Remaining, ms(d.WindowMS), ms(d.ResetAfterMS))
		switch {
		case d.RetryAfterMS < 0:
			fmt.Fprint(stdout, ", cost over the limit: never allowed")
		case !d.Allowed:
			fmt.Fprintf(stdout, ", retry in %s", ms(d.RetryAfterMS))
		}
		fmt.Fprintln(stdout)
	}
	if !d.Allowed {
		return exitDenied
	}
	return exitOK
}

type counter struct {
	Key          string `json:"key"`
	Count        int64  `json:"count"`
	Limit        int64  `json:"limit"`
	Remaining    int64  `json:"remaining"`
	WindowMS     int64  `json:"window_ms"`
	ResetAfterMS int64  `json:"reset_after_ms"`
}

// counters pages through every live counter with the prefix.
func (c *client) counters(ctx context.Context, prefix string, pageSize int, stdout, stderr io.Writer) int {
	if pageSize < 1 || pageSize > server.MaxListLimit {
		fmt.Fprintf(stderr, "ringlimit counters: --page-size %d: want 1 to %d\n", pageSize, server.MaxListLimit)
		return exitUsage
	}
	all := []counter{}
	cursor := ""
	for page := 0; ; page++ {
		q := url.Values{"limit": {strconv.Itoa(pageSize)}}
		if prefix != "" {
			q.Set("prefix", prefix)
		}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		_, _, b, err := c.do(ctx, http.MethodGet, "/api/counters?"+q.Encode(), nil)
		if err != nil {
			return fail(stderr, "counters", err)
		}
		var list struct {
			Counters   []counter `json:"counters"`
			NextCursor string    `json:"next_cursor"`
		}
		if err := json.Unmarshal(b, &list); err != nil {
			return fail(stderr, "counters", fmt.Errorf("bad answer: %w", err))
		}
		all = append(all, list.Counters...)
		if list.NextCursor == "" || list.NextCursor == cursor {
			break
		}
		cursor = list.NextCursor
	}
	if c.cfg.JSON {
		b, _ := json.Marshal(map[string]any{"counters": all})
		stdout.Write(append(b, '\n')) //nolint:errcheck
		return exitOK
	}
	if len(all) == 0 {
		fmt.Fprintln(stdout, "no live counters")
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tCOUNT\tLIMIT\tREMAINING\tWINDOW\tRESETS IN")
	for _, k := range all {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\n", printable(k.Key), k.Count, k.Limit, k.Remaining, ms(k.WindowMS), ms(k.ResetAfterMS))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d live counter(s)\n", len(all))
	return exitOK
}

func (c *client) reset(ctx context.Context, key string, stdout, stderr io.Writer) int {
	_, h, b, err := c.do(ctx, http.MethodPost, "/api/counters/"+url.PathEscape(key)+"/reset", nil)
	if err != nil {
		return fail(stderr, "reset", err)
	}
	if c.cfg.JSON {
		stdout.Write(append(b, '\n')) //nolint:errcheck
		return exitOK
	}
	var r struct {
		Key   string `json:"key"`
		Reset bool   `json:"reset"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return fail(stderr, "reset", fmt.Errorf("bad answer %q: %w", b, err))
	}
	what := "no live counter, nothing to clear"
	if r.Reset {
		what = "cleared"
	}
	fmt.Fprintf(stdout, "reset %s: %s (commit index %s)\n", printable(r.Key), what, h.Get(server.IndexHeader))
	return exitOK
}

func (c *client) status(ctx context.Context, stdout, stderr io.Writer) int {
	_, _, b, err := c.do(ctx, http.MethodGet, "/api/cluster", nil)
	if err != nil {
		return fail(stderr, "status", err)
	}
	if c.cfg.JSON {
		stdout.Write(append(b, '\n')) //nolint:errcheck
		return exitOK
	}
	var st server.ClusterStatus
	if err := json.Unmarshal(b, &st); err != nil {
		return fail(stderr, "status", fmt.Errorf("bad answer: %w", err))
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "node\t%s\n", st.Node)
	fmt.Fprintf(tw, "state\t%s\n", st.State)
	fmt.Fprintf(tw, "leader\t%s\n", dash(st.Leader+addrSuffix(st.LeaderHTTP)))
	fmt.Fprintf(tw, "raft\tterm %d, commit index %d, applied index %d\n", st.Term, st.CommitIndex, st.AppliedIndex)
	tw.Flush()
	fmt.Fprintln(stdout)
	tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tHTTP\tGOSSIP\tRAFT\tGOSSIP STATE\tSUFFRAGE")
	for _, mb := range st.Members {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", mb.ID, dash(mb.HTTPAddr), dash(mb.GossipAddr), dash(mb.RaftAddr), dash(mb.GossipState), dash(mb.Suffrage))
	}
	tw.Flush()
	return exitOK
}

func addrSuffix(a string) string {
	if a == "" {
		return ""
	}
	return " (" + a + ")"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ms shows milliseconds as a duration.
func ms(v int64) string { return (time.Duration(v) * time.Millisecond).String() }

// printable quotes a key that would garble a terminal or a table.
func printable(key string) string {
	for _, r := range key {
		if !unicode.IsPrint(r) || r == '\t' {
			return strconv.Quote(key)
		}
	}
	return key
}
