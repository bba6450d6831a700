// The options argument of node's whole-file functions (its getOptions): a string is the
// encoding, null/undefined the defaults, an object is checked (encoding, signal, flag, mode).
import { invalidArgType, invalidArgValue } from '../errors.js';
import { validateSignal } from '../validate.js';

export interface FileOptions {
  encoding: BufferEncoding | undefined;
  signal: AbortSignal | undefined;
  flag: string | number | undefined;
  mode: string | number | undefined;
  /** writeFile's: checked there */
  flush: unknown;
}

export function fileOptions(options: unknown, defaults: { encoding?: BufferEncoding; flag?: string; mode?: number }): FileOptions {
  let o: Record<string, unknown>;
  if (options === null || options === undefined || typeof options === 'function') o = {};
  else if (typeof options === 'string') o = { encoding: options };
  else if (typeof options === 'object') o = options as Record<string, unknown>;
  else throw invalidArgType('options', 'of type string or an instance of Object', options);
  // As node's assertEncoding: a falsy encoding (null, '') means bytes; 'buffer' too.
  const raw = o.encoding === undefined ? defaults.encoding : o.encoding;
  if (raw && raw !== 'buffer' && (typeof raw !== 'string' || !Buffer.isEncoding(raw))) throw invalidArgValue('encoding', raw, 'is invalid encoding');
  const encoding = raw && raw !== 'buffer' ? raw : undefined;
  return {
    encoding: encoding as BufferEncoding | undefined,
    signal: validateSignal(o.signal),
    flag: (o.flag as string | number | undefined) || defaults.flag,
    mode: (o.mode as string | number | undefined) ?? defaults.mode,
    flush: o.flush as boolean | undefined ?? false,
  };
}
