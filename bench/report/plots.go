package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

var percentileNames = []string{"p50", "p90", "p99", "p99.9", "max"}

func (g *group) percentiles() []float64 { return []float64{g.P50, g.P90, g.P99, g.P999, g.Max} }

func (g *group) name() string { return g.Config + "/" + g.System }

// plotLatency draws, for every group, its median latency at each
// percentile, on a log scale in milliseconds.
func plotLatency(gs []*group, path string) error {
	p := plot.New()
	p.Title.Text = "Latency by percentile (median of runs)"
	p.Y.Label.Text = "latency (ms, log scale)"
	p.X.Label.Text = "percentile"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.NominalX(percentileNames...)
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true
	top, bottom := 0.0, math.Inf(1)
	for _, g := range gs {
		top = max(top, g.Max/1e3)
		for _, v := range g.percentiles() {
			if v > 0 {
				bottom = min(bottom, v/1e3)
			}
		}
	}
	if top > 0 {
		p.Y.Max = top * 8 // room for the legend above the lines
		p.Y.Min = bottom / 1.5
	}
	for i, g := range gs {
		pts := make(plotter.XYs, 0, len(percentileNames))
		for j, v := range g.percentiles() {
			if v <= 0 {
				continue // a log scale cannot show it
			}
			pts = append(pts, plotter.XY{X: float64(j), Y: v / 1e3})
		}
		if len(pts) == 0 {
			continue
		}
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		l.Color = plotutil.Color(i)
		l.Dashes = plotutil.Dashes(i)
		s.Color = plotutil.Color(i)
		s.Shape = plotutil.Shape(i)
		p.Add(l, s)
		p.Legend.Add(g.name(), l, s)
	}
	return save(p, 7*vg.Inch, 4.5*vg.Inch, path)
}

// plotBars draws one value per group as labelled bars.
func plotBars(gs []*group, title, ylabel string, value func(*group) float64, c color.Color, path string) error {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	names := make([]string, len(gs))
	var vals plotter.Values
	var top float64
	for i, g := range gs {
		names[i] = g.name()
		vals = append(vals, value(g))
		top = max(top, value(g))
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(28))
	if err != nil {
		return err
	}
	bars.Color = c
	bars.LineStyle.Width = 0
	var xys plotter.XYs
	var texts []string
	for i, v := range vals {
		xys = append(xys, plotter.XY{X: float64(i), Y: v})
		texts = append(texts, num(v))
	}
	labels, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: texts})
	if err != nil {
		return err
	}
	for i := range labels.TextStyle {
		labels.TextStyle[i].XAlign = -0.5 // centred on the bar
		labels.TextStyle[i].YAlign = 0.2  // just above it
	}
	p.Add(plotter.NewGrid(), bars, labels)
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.6, float64(len(gs))-0.4
	p.Y.Min, p.Y.Max = 0, max(top*1.15, 1)
	width := vg.Length(max(6, 1.4*float64(len(gs)))) * vg.Inch
	return save(p, width, 4*vg.Inch, path)
}

// plotThroughput draws requests/s of every group.
func plotThroughput(gs []*group, path string) error {
	return plotBars(gs, "Requests per second by configuration (median of runs)", "requests/s",
		func(g *group) float64 { return g.ReqPerS }, plotutil.Color(0), path)
}

// plotDecisions draws decisions/s (checks answered) of every group; a
// batched request carries many.
func plotDecisions(gs []*group, path string) error {
	return plotBars(gs, "Decisions per second by configuration (median of runs)", "decisions/s",
		func(g *group) float64 { return g.DecPerS }, plotutil.Color(1), path)
}

// plotRatios draws ringlimit/reference for throughput and p99 per round,
// with the targets as lines.
func plotRatios(rs []ratio, path string) error {
	p := plot.New()
	p.Title.Text = "ringlimit / bare fasthttp reference, round by round"
	p.Y.Label.Text = "ratio"
	p.X.Label.Text = "round"
	p.Add(plotter.NewGrid())
	i := 0
	top, rounds := 1.5, 1
	for _, r := range rs {
		var tp, p99 plotter.XYs
		for k, rr := range r.Rounds {
			top = max(top, rr.Throughput, rr.P99)
			rounds = max(rounds, k+1)
			tp = append(tp, plotter.XY{X: float64(k + 1), Y: rr.Throughput})
			p99 = append(p99, plotter.XY{X: float64(k + 1), Y: rr.P99})
		}
		for _, s := range []struct {
			name string
			pts  plotter.XYs
		}{{r.Config + " throughput", tp}, {r.Config + " p99", p99}} {
			if len(s.pts) == 0 {
				continue
			}
			l, pt, err := plotter.NewLinePoints(s.pts)
			if err != nil {
				return err
			}
			l.Color, pt.Color, pt.Shape = plotutil.Color(i), plotutil.Color(i), plotutil.Shape(i)
			p.Add(l, pt)
			p.Legend.Add(s.name, l, pt)
			i++
		}
	}
	for _, t := range []struct {
		y    float64
		name string
	}{{0.8, "throughput target ≥ 0.8"}, {1.5, "p99 target ≤ 1.5"}} {
		f := plotter.NewFunction(func(float64) float64 { return t.y })
		f.Color = color.Gray{Y: 128}
		f.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(f)
		p.Legend.Add(t.name, f)
	}
	// Room above the data for the legend; a tick per round.
	p.Y.Min, p.Y.Max = 0, top*1.5
	p.X.Min, p.X.Max = 0.5, float64(rounds)+0.5
	var ticks []plot.Tick
	for k := 1; k <= rounds; k++ {
		ticks = append(ticks, plot.Tick{Value: float64(k), Label: fmt.Sprint(k)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.Legend.Top = true
	return save(p, 7*vg.Inch, 4*vg.Inch, path)
}

func save(p *plot.Plot, w, h vg.Length, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := p.Save(w, h, path); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
}
