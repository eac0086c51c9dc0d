package main

import (
	"fmt"
	"image/color"
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

// plotThroughput draws requests/s and decisions/s of every group as bars.
func plotThroughput(gs []*group, path string) error {
	p := plot.New()
	p.Title.Text = "Throughput by configuration (median of runs)"
	p.Y.Label.Text = "per second"
	names := make([]string, len(gs))
	var req, dec plotter.Values
	for i, g := range gs {
		names[i] = g.name()
		req = append(req, g.ReqPerS)
		dec = append(dec, g.DecPerS)
	}
	w := vg.Points(14)
	br, err := plotter.NewBarChart(req, w)
	if err != nil {
		return err
	}
	br.Color = plotutil.Color(0)
	br.LineStyle.Width = 0
	br.Offset = -w / 2
	bd, err := plotter.NewBarChart(dec, w)
	if err != nil {
		return err
	}
	bd.Color = plotutil.Color(1)
	bd.LineStyle.Width = 0
	bd.Offset = w / 2
	p.Add(plotter.NewGrid(), br, bd)
	p.Legend.Add("requests/s", br)
	p.Legend.Add("decisions/s", bd)
	p.Legend.Top = true
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = 0.35
	p.X.Tick.Label.XAlign = -0.9
	p.X.Tick.Label.YAlign = -0.6
	p.Y.Min = 0
	width := vg.Length(max(6, 1.3*float64(len(gs)))) * vg.Inch
	return save(p, width, 4.5*vg.Inch, path)
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
	for _, r := range rs {
		var tp, p99 plotter.XYs
		for k, rr := range r.Rounds {
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
	p.Y.Min = 0
	p.X.Min = 0.5
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
