package msbench

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

// Plot draws the total time, mean and p99 latency per number of users,
// with the paper's Table 1 latency, on a logarithmic time axis, and writes
// a PNG.
func Plot(rs []Row, path string) error {
	if len(rs) == 0 {
		return nil
	}
	p := plot.New()
	p.Title.Text = "MeDShare: request → delivered package"
	p.X.Label.Text = "requestors asking at once"
	p.Y.Label.Text = "seconds (log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, false
	p.Legend.XOffs, p.Legend.YOffs = -vg.Millimeter*4, -vg.Centimeter*4.5
	series := []struct {
		name string
		c    color.Color
		v    func(Row) (float64, bool)
	}{
		{"paper (Table 1)", color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}, func(r Row) (float64, bool) { v, ok := Paper[r.Users]; return v, ok }},
		{"total (all delivered)", color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, func(r Row) (float64, bool) { return r.Total.Seconds(), r.OK > 0 }},
		{"p99", color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, func(r Row) (float64, bool) { return r.P(0.99).Seconds(), r.OK > 0 }},
		{"mean", color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, func(r Row) (float64, bool) { return r.Mean().Seconds(), r.OK > 0 }},
	}
	for _, s := range series {
		var pts plotter.XYs
		for _, r := range rs {
			if v, ok := s.v(r); ok && v > 0 {
				pts = append(pts, plotter.XY{X: float64(r.Users), Y: v})
			}
		}
		if len(pts) == 0 {
			continue
		}
		l, sc, err := plotter.NewLinePoints(pts)
		if err != nil {
			return fmt.Errorf("msbench: plot: %w", err)
		}
		l.Color, sc.Color = s.c, s.c
		l.Width = vg.Points(1.5)
		if s.name == "total (all delivered)" {
			l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
			l.Width = vg.Points(2.5)
		}
		p.Add(l, sc)
		p.Legend.Add(s.name, l, sc)
	}
	img := vgimg.NewWith(vgimg.UseWH(20*vg.Centimeter, 13*vg.Centimeter), vgimg.UseDPI(110), vgimg.UseBackgroundColor(color.White))
	p.Draw(draw.New(img))
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
