// A uPlot chart in a Preact component: created once, fed new data on every render.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

// makeOpts(width) -> uPlot options; data: uPlot's [xs, ys...] (x in seconds).
export function Chart({ makeOpts, data, height = 180, testid }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const width = () => Math.max(200, box.current.clientWidth);
    plot.current = new uPlot({ ...makeOpts(), width: width(), height }, data, box.current);
    const observer = new ResizeObserver(() => plot.current.setSize({ width: width(), height }));
    observer.observe(box.current);
    return () => {
      observer.disconnect();
      plot.current.destroy();
      plot.current = null;
    };
  }, []);
  useEffect(() => {
    if (plot.current) plot.current.setData(data);
  }, [data]);
  return <div class="chart" ref={box} data-testid={testid} />;
}

// The x range of the histogram: its buckets, the last one included (one bucket alone is 1 s wide).
function histogramRange(u, min, max) {
  const xs = u.data[0];
  if (xs.length === 0) return [min, max];
  return [min, max + (xs.length > 1 ? xs[1] - xs[0] : 1)];
}

// The x range of a time series: one sample alone sits in a minute around it, not in years.
function timeRange(u, min, max) {
  return min === max ? [min - 30, max + 30] : [min, max];
}

// Bars of counts per bucket; dragging across selects a time range: onZoom(fromMs, toMs).
export function histogramOpts(onZoom) {
  return () => ({
    cursor: { drag: { x: true, y: false, setScale: false } },
    legend: { show: false },
    scales: { x: { time: true, range: histogramRange } },
    axes: [{}, { size: 50 }],
    series: [{}, { label: 'records', fill: 'rgba(46,114,210,0.55)', stroke: '#2e72d2',
      paths: uPlot.paths.bars({ size: [0.9, 60] }), points: { show: false } }],
    hooks: {
      setSelect: [(u) => {
        if (u.select.width < 3) return;
        const from = u.posToVal(u.select.left, 'x');
        const to = u.posToVal(u.select.left + u.select.width, 'x');
        u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
        onZoom(Math.floor(from * 1000), Math.ceil(to * 1000));
      }],
    },
  });
}

const COLORS = ['#2e72d2', '#d2462e', '#2ea043', '#a371f7', '#d29922', '#1f9ea8'];

// Lines over time, one per series name: [{label}, ...] and data [xs, ys...].
export function linesOpts(title, labels) {
  return () => ({
    title,
    legend: { show: true },
    scales: { x: { time: true, range: timeRange } },
    axes: [{}, { size: 60 }],
    series: [{}, ...labels.map((label, i) => ({ label, stroke: COLORS[i % COLORS.length], width: 1.5,
      points: { show: false } }))],
  });
}
