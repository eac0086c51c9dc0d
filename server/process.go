package server

import (
	"io"

	"github.com/VictoriaMetrics/metrics"
)

// metricsProcess writes the Go runtime and process metrics (go_*, process_*).
func metricsProcess(w io.Writer) { metrics.WriteProcessMetrics(w) }
