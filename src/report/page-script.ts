// @ts-nocheck
// Browser code, not type-checked (the project's types have no DOM): html.ts inlines
// drawCharts.toString() into the page, so it uses nothing from outside its own body.
//
// The page's own script: each chart spec (charts.ts) becomes a Chart.js chart on its canvas.
// No animation: the page is a document, drawn once, and a screenshot taken at once shows it all.
export function drawCharts(specs) {
  const Chart = window.Chart;
  // Three significant digits: 50k, 1.25M, 412 ns, 12.3 µs.
  const sig = n => String(+n.toPrecision(3));
  const si = n => (n >= 1e9 ? sig(n / 1e9) + 'G' : n >= 1e6 ? sig(n / 1e6) + 'M' : n >= 1e3 ? sig(n / 1e3) + 'k' : sig(n));
  const duration = ns => (ns < 1e3 ? sig(ns) + ' ns' : ns < 1e6 ? sig(ns / 1e3) + ' µs' : ns < 1e9 ? sig(ns / 1e6) + ' ms' : sig(ns / 1e9) + ' s');
  const format = (unit, v) => (v === null || v === undefined ? '-' : unit === 'iops' ? si(v) : unit === 'ns' ? duration(v) : unit === 'us' ? sig(v) + ' µs' : sig(v) + ' ' + unit);
  const tick = (unit, v) => (unit === 'MiB/s' || unit === 'GiB/s' ? sig(v) : format(unit, v));
  const unitTitle = { iops: 'IOPS', 'MiB/s': 'MiB/s', 'GiB/s': 'GiB/s', ns: 'latency', us: 'µs per operation' };
  // On a log axis Chart.js ticks 1..9 of every decade: label as many as the room for a decade allows.
  const logTick = (unit, v, scale) => {
    const room = (scale.isHorizontal() ? scale.width : scale.height) / Math.log10(scale.max / scale.min);
    const shown = room < 60 ? [1] : room < 120 ? [1, 3] : [1, 2, 3, 5];
    const m = v / Math.pow(10, Math.floor(Math.log10(v)));
    return shown.some(x => Math.abs(m - x) < 1e-6) ? tick(unit, v) : '';
  };

  Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
  Chart.defaults.font.size = 12;
  Chart.defaults.color = '#333';
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;

  for (const spec of specs) {
    const canvas = document.getElementById(spec.id);
    if (!canvas) throw new Error('no canvas for chart ' + spec.id);
    const valueAxis = {
      type: spec.log ? 'logarithmic' : 'linear',
      beginAtZero: !spec.log,
      title: { display: true, text: unitTitle[spec.unit] },
      ticks: {
        autoSkip: !spec.log, // logTick already leaves most ticks unlabelled
        callback: function (v) { return spec.log ? logTick(spec.unit, v, this) : tick(spec.unit, v); },
      },
      grid: { color: c => (c.tick && c.tick.label === '' ? '#f3f3f3' : '#e0e0e0') },
    };
    const tooltip = { callbacks: { label: c => (c.dataset.label ? c.dataset.label + ': ' : '') + format(spec.unit, c.parsed[spec.kind === 'throughput' || spec.kind === 'cpu' || spec.kind === 'loop' ? 'x' : 'y']) } };
    let config;
    if (spec.kind === 'throughput' || spec.kind === 'cpu' || spec.kind === 'loop') {
      const stacked = spec.kind === 'cpu';
      const shade = (text, alpha, i) => ({ text, fillStyle: 'rgba(85, 85, 85, ' + alpha + ')', strokeStyle: 'rgba(85, 85, 85, ' + alpha + ')', lineWidth: 0, datasetIndex: i });
      config = {
        type: 'bar',
        data: {
          labels: spec.labels,
          datasets: spec.datasets.map(d => ({ label: d.label, data: d.data, backgroundColor: d.color, borderWidth: 0, barPercentage: 0.8, categoryPercentage: 0.9, maxBarThickness: 30 })),
        },
        options: {
          indexAxis: 'y',
          scales: { x: { ...valueAxis, stacked }, y: { stacked, grid: { display: false } } },
          plugins: {
            tooltip,
            legend: stacked
              ? { position: 'bottom', labels: { boxWidth: 14, generateLabels: () => [shade('user', 1, 0), shade('system (lighter)', 0.4, 1)] } }
              : spec.kind === 'loop'
                ? { position: 'bottom', labels: { boxWidth: 14, generateLabels: () => [shade('p50 (lightest)', 0.3, 0), shade('p99', 0.6, 1), shade('longest', 1, 2)] } }
                : { display: false },
          },
        },
      };
    } else {
      config = {
        type: 'line',
        data: {
          labels: spec.labels,
          datasets: spec.datasets.map(d => ({
            label: d.label, data: d.data, borderColor: d.color, backgroundColor: d.color,
            borderWidth: 2, borderDash: d.dashed ? [6, 4] : [], pointRadius: spec.kind === 'sweep' ? 3 : 2, spanGaps: true,
          })),
        },
        options: {
          interaction: { mode: 'index', intersect: false },
          scales: {
            x: { title: { display: Boolean(spec.xTitle), text: spec.xTitle }, grid: { color: '#f0f0f0' }, ticks: { autoSkip: true, maxRotation: 0 } },
            y: valueAxis,
          },
          plugins: { tooltip, legend: { position: 'bottom', labels: { boxWidth: 14, boxHeight: 2 } } },
        },
      };
    }
    new Chart(canvas, config);
  }
}
