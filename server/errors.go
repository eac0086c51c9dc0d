package server

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/valyala/fasthttp"

	"github.com/ringlimit/ringlimit/window"
)

// Error codes of the API. Every error answer is
//
//	{"error":{"code":"<code>","message":"<text for humans>"}}
//
// with the status listed beside its code in errorCodes.
const (
	codeInvalidJSON      = "invalid_json"      // 400 body is not a JSON object
	codeInvalidRequest   = "invalid_request"   // 400 body mixes a single check and a batch
	codeUnknownField     = "unknown_field"     // 400 body has a field the API does not know
	codeDuplicateField   = "duplicate_field"   // 400 body names a field twice
	codeMissingKey       = "missing_key"       // 400 key absent or empty
	codeInvalidKey       = "invalid_key"       // 400 key not a string, not UTF-8, or badly percent-encoded
	codeKeyTooLong       = "key_too_long"      // 400 key over MaxKeyBytes
	codeInvalidCost      = "invalid_cost"      // 400 cost not an integer in [0, window.MaxLimit]
	codeInvalidLimit     = "invalid_limit"     // 400 limit not an integer in its range
	codeInvalidWindow    = "invalid_window"    // 400 window_ms not an integer in [1, window.MaxWindow]
	codeInvalidChecks    = "invalid_checks"    // 400 checks not an array of objects
	codeBatchTooLarge    = "batch_too_large"   // 400 more than MaxBatch checks
	codeInvalidPrefix    = "invalid_prefix"    // 400 prefix not UTF-8 or too long
	codeInvalidCursor    = "invalid_cursor"    // 400 cursor not one this API handed out
	codeInvalidArgument  = "invalid_argument"  // 400 the store refused an argument (window.ErrInvalid)
	codeBadRequest       = "bad_request"       // 400 the HTTP request could not be parsed
	codeUnauthorized     = "unauthorized"      // 401 missing or wrong admin token
	codeNotFound         = "not_found"         // 404 unknown route
	codeCounterNotFound  = "counter_not_found" // 404 no live counter for the key
	codeMethodNotAllowed = "method_not_allowed"
	codeRequestTimeout   = "request_timeout"   // 408 the request was not read in time
	codeBodyTooLarge     = "body_too_large"    // 413 body over Config.MaxBodyBytes
	codeHeadersTooLarge  = "headers_too_large" // 431 request headers over the read buffer
	codeInternal         = "internal"          // 500 a bug; the log has the detail
	codeNoLeader         = "no_leader"         // 503 ErrNoLeader
	codeNotLeader        = "not_leader"        // 503 ErrNotLeader
	codeStopping         = "stopping"          // 503 ErrStopped
	codeNotReady         = "not_ready"         // 503 Cluster.Ready failed for another reason
)

// errorCodes lists every code with its status, so that the error counters
// can be created up front.
var errorCodes = []struct {
	status int
	code   string
}{
	{400, codeInvalidJSON}, {400, codeInvalidRequest}, {400, codeUnknownField},
	{400, codeDuplicateField}, {400, codeMissingKey}, {400, codeInvalidKey},
	{400, codeKeyTooLong}, {400, codeInvalidCost}, {400, codeInvalidLimit},
	{400, codeInvalidWindow}, {400, codeInvalidChecks}, {400, codeBatchTooLarge},
	{400, codeInvalidPrefix}, {400, codeInvalidCursor}, {400, codeInvalidArgument},
	{400, codeBadRequest}, {401, codeUnauthorized}, {404, codeNotFound},
	{404, codeCounterNotFound}, {405, codeMethodNotAllowed}, {408, codeRequestTimeout},
	{413, codeBodyTooLarge}, {431, codeHeadersTooLarge}, {500, codeInternal},
	{503, codeNoLeader}, {503, codeNotLeader}, {503, codeStopping},
	{503, codeNotReady},
}

// apiError is an error answer: a status, a code and a message.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// toAPIError maps any error to its answer. It is the one place where the
// sentinel errors of the cluster and the store become statuses; errors it
// does not know become 500 internal (and internal is true so the caller
// logs them).
func toAPIError(err error) (ae *apiError, internal bool) {
	var netErr net.Error
	var smallBuf *fasthttp.ErrSmallBuffer
	switch {
	case errors.As(err, &ae):
		return ae, false
	case errors.Is(err, ErrNoLeader):
		return &apiError{503, codeNoLeader, err.Error()}, false
	case errors.Is(err, ErrNotLeader):
		return &apiError{503, codeNotLeader, err.Error()}, false
	case errors.Is(err, ErrStopped):
		return &apiError{503, codeStopping, err.Error()}, false
	case errors.Is(err, context.DeadlineExceeded):
		// A reset not committed within the reset timeout: as far as this
		// node can tell there is no quorum (DESIGN.md §3).
		return &apiError{503, codeNoLeader, "no leader committed the reset within the reset timeout"}, false
	case errors.Is(err, window.ErrInvalid):
		return &apiError{400, codeInvalidArgument, err.Error()}, false
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return &apiError{413, codeBodyTooLarge, "request body too large"}, false
	case errors.As(err, &smallBuf):
		return &apiError{431, codeHeadersTooLarge, "request headers too large"}, false
	case errors.As(err, &netErr) && netErr.Timeout():
		return &apiError{408, codeRequestTimeout, "request not received in time"}, false
	default:
		return &apiError{500, codeInternal, "internal error"}, true
	}
}
