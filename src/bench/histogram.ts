// Latency histograms (hdr-histogram-js), built one way everywhere: the clones record into them,
// the parent decodes, merges and reads percentiles from them. Values in ns, 3 significant digits.
import * as hdr from 'hdr-histogram-js';

const BIT_BUCKET_SIZE = 32;

/** An empty histogram: on WebAssembly where values are recorded per I/O (~50 ns a value), else plain JS. */
export function latencyHistogram(useWebAssembly: boolean): hdr.Histogram {
  return hdr.build({
    bitBucketSize: BIT_BUCKET_SIZE, lowestDiscernibleValue: 1, highestTrackableValue: 10e9,
    numberOfSignificantValueDigits: 3, autoResize: true, useWebAssembly,
  });
}

/** A clone's histogram as it crossed from its thread (hdr's compressed base64). */
export function decodeHistogram(encoded: string): hdr.Histogram {
  return hdr.decodeFromCompressedBase64(encoded, BIT_BUCKET_SIZE, false);
}
