// The chart library, inlined into every page so that it opens from disk with no network: Chart.js's
// UMD build, read from node_modules when a report is rendered.
//
// Why Chart.js: the page needs bar charts (throughput, stacked CPU per operation), line charts over
// categories (percentiles, a sweep's values) and logarithmic axes, with legends and tooltips. Chart.js
// has all of them built in, in one 210 KB file with no dependencies. uPlot is smaller (~50 KB) but
// made for time series: bars and category axes would be drawing code of our own. ECharts draws all of
// it too, at ~1 MB minified: five times the page for features the report does not use.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

let cached: string | undefined;

/** Chart.js's UMD build (html.ts makes it safe inside a <script> element). */
export function chartJsSource(): string {
  if (cached) return cached;
  // The package's exports map names only its module builds; the UMD file sits next to them in dist/.
  const main = createRequire(import.meta.url).resolve('chart.js');
  const source = fs.readFileSync(path.join(path.dirname(main), 'chart.umd.min.js'), 'utf8');
  cached = source.replace(/^\/\/# sourceMappingURL=.*$/gm, ''); // no request for a map that is not there
  return cached;
}

/** `4.6.1`, from the file's banner. */
export function chartJsVersion(): string {
  return /Chart\.js v(\S+)/.exec(chartJsSource().slice(0, 200))?.[1] ?? 'unknown';
}
