package abebench

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

	"github.com/medshare/medshare/abe"
)

var schemeStyle = map[string]struct {
	label string
	color color.Color
	shape draw.GlyphDrawer
}{
	abe.MSC:   {"msc (one BSW07 header, three levels)", color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, draw.CircleGlyph{}},
	abe.TKN20: {"tkn20 (one ciphertext per level)", color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, draw.TriangleGlyph{}},
}

// Plot draws time (ms) against the number of attributes for KeyGen, Encrypt
// (three levels) and Decrypt (top level), one panel each, and writes a PNG.
func Plot(rs []Result, path string) error {
	panels := []struct{ op, title string }{
		{"KeyGen", "KeyGen"},
		{"Encrypt", "Encrypt (all three levels)"},
		{"Decrypt", "Decrypt (top level, from bytes)"},
	}
	row := make([]*plot.Plot, len(panels))
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.title
		p.X.Label.Text = "attributes"
		p.Y.Label.Text = "time (ms)"
		p.Y.Min = 0
		var ticks []plot.Tick
		for _, r := range rs {
			if r.Scheme == rs[0].Scheme {
				ticks = append(ticks, plot.Tick{Value: float64(r.N), Label: fmt.Sprint(r.N)})
			}
		}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		p.Add(plotter.NewGrid())
		p.Legend.Top = true
		p.Legend.Left = true
		maxY := 0.0
		for _, sch := range []string{abe.MSC, abe.TKN20} {
			var pts plotter.XYs
			for _, r := range rs {
				if r.Scheme == sch {
					pts = append(pts, plotter.XY{X: float64(r.N), Y: ms(r.Times[pn.op])})
					maxY = max(maxY, ms(r.Times[pn.op]))
				}
			}
			if len(pts) == 0 {
				continue
			}
			st := schemeStyle[sch]
			line, points, err := plotter.NewLinePoints(pts)
			if err != nil {
				return fmt.Errorf("abebench: plot: %w", err)
			}
			line.Color = st.color
			line.Width = vg.Points(1.5)
			points.Color = st.color
			points.Shape = st.shape
			points.Radius = vg.Points(3)
			p.Add(line, points)
			p.Legend.Add(st.label, line, points)
		}
		p.Y.Max = 1.3 * maxY // room for the legend
		row[i] = p
	}
	img := vgimg.NewWith(vgimg.UseWH(36*vg.Centimeter, 12*vg.Centimeter), vgimg.UseDPI(110), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(row), PadX: vg.Centimeter, PadTop: vg.Millimeter * 3, PadBottom: vg.Millimeter * 3, PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 5}
	canvases := plot.Align([][]*plot.Plot{row}, tiles, dc)
	for i, p := range row {
		p.Draw(canvases[0][i])
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
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
