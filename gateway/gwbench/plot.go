package gwbench

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Plot draws two panels — throughput (req/s) and p99 latency (ms) for each
// run — and writes a PNG.
func Plot(rs []Result, path string) error {
	if len(rs) == 0 {
		return nil
	}
	var names []string
	thr, p99 := make(plotter.Values, len(rs)), make(plotter.Values, len(rs))
	for i, r := range rs {
		names = append(names, fmt.Sprintf("%s @%d", r.Workload, r.Concurrency))
		thr[i] = r.Rate()
		p99[i] = float64(r.P(0.99).Milliseconds())
	}
	panels := []struct {
		title, y string
		v        plotter.Values
		c        color.Color
	}{
		{"throughput", "requests/s", thr, color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}},
		{"p99 latency", "ms", p99, color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}},
	}
	row := make([]*plot.Plot, len(panels))
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.title
		p.Y.Label.Text = pn.y
		p.Add(plotter.NewGrid())
		bars, err := plotter.NewBarChart(pn.v, vg.Points(22))
		if err != nil {
			return fmt.Errorf("gwbench: plot: %w", err)
		}
		bars.Color = pn.c
		bars.LineStyle.Width = 0
		p.Add(bars)
		p.NominalX(names...)
		p.X.Tick.Label.Rotation = 0.6
		p.X.Tick.Label.XAlign = draw.XRight
		row[i] = p
	}
	img := vgimg.NewWith(vgimg.UseWH(32*vg.Centimeter, 13*vg.Centimeter), vgimg.UseDPI(110), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(row), PadX: vg.Millimeter * 6, PadY: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align([][]*plot.Plot{row}, tiles, dc)
	for i, p := range row {
		p.Draw(canvases[0][i])
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
