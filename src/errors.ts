// Every error ioengine makes, shaped as node:fs makes them.
import util from 'node:util';

const systemErrors = util.getSystemErrorMap();

export interface SystemError extends Error {
  code: string;
  errno: number;
  syscall: string;
  path?: string;
  dest?: string;
}

/**
 * A system error made where no stack was taken (the engines' completions): give it the stack of
 * here, which, just after an await, holds the caller's async frames, as node's own promise errors
 * do. Taking a stack before each call would cost more than a cached read; this costs only on failure.
 */
export function stackFromHere<E>(err: E): E {
  if (err instanceof Error && 'errno' in err) Error.captureStackTrace(err, stackFromHere);
  return err;
}

/**
 * errno (negative, as the engines return it) -> `ENOENT: no such file or directory, open '/x'`
 * (with a dest: `rename '/a' -> '/b'`).
 */
export function systemError(errno: number, syscall: string, path?: string, dest?: string): SystemError {
  // An errno libuv has no name for: node:fs/promises (libuv's uv_err_name and uv_strerror) says
  // `Unknown system error -N` for both.
  const unknown = `Unknown system error ${errno}`;
  const [code, description] = systemErrors.get(errno) ?? [unknown, unknown];
  let message = `${code}: ${description}, ${syscall}`;
  if (path !== undefined) message += ` '${path}'`;
  if (dest !== undefined) message += ` -> '${dest}'`;
  const err = new Error(message) as SystemError;
  err.errno = errno;
  err.code = code;
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  if (dest !== undefined) err.dest = dest;
  return err;
}

export function errnoOf(name: string): number {
  for (const [errno, [code]] of systemErrors) if (code === name) return errno;
  throw new Error(`unknown errno name ${name}`);
}

type CodedError = Error & { code: string };

function coded<E extends Error>(err: E, code: string): E & { code: string } {
  const e = err as E & { code: string };
  e.code = code;
  // Node puts the code in the name shown by the stack: "TypeError [ERR_X]: ..."
  if (e.stack) e.stack = e.stack.replace(/^(\w+)/, `$1 [${code}]`);
  return e;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return `function ${value.name}`;
  if (typeof value === 'object') {
    const name = (value as object).constructor?.name;
    return name ? `an instance of ${name}` : util.inspect(value, { depth: -1 });
  }
  let shown = util.inspect(value, { colors: false });
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return `type ${typeof value} (${shown})`;
}

export function invalidArgType(name: string, expected: string, actual: unknown): CodedError {
  return coded(new TypeError(`The "${name}" argument must be ${expected}. Received ${describe(actual)}`), 'ERR_INVALID_ARG_TYPE');
}

/** An Error with node's code, as node's own internal errors are made (the code in its stack too). */
export function nodeError(code: string, message: string): CodedError {
  return coded(new Error(message), code);
}

/** node's ERR_INVALID_STATE. */
export function invalidState(what: string): CodedError {
  return nodeError('ERR_INVALID_STATE', `Invalid state: ${what}`);
}

export function invalidArgValue(name: string, value: unknown, reason = 'is invalid'): CodedError {
  return coded(new TypeError(`The argument '${name}' ${reason}. Received ${util.inspect(value)}`), 'ERR_INVALID_ARG_VALUE');
}

export function invalidUrlScheme(expected: string): CodedError {
  return coded(new TypeError(`The URL must be of scheme ${expected}`), 'ERR_INVALID_URL_SCHEME');
}

export function outOfRange(name: string, range: string, value: unknown): CodedError {
  return coded(new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${util.inspect(value)}`), 'ERR_OUT_OF_RANGE');
}

/** A closed FileHandle's answer, word for word node's: 'file closed', EBADF, the call's syscall, no errno. */
export function fileClosed(syscall: string): CodedError & { syscall: string } {
  return Object.assign(new Error('file closed'), { code: 'EBADF', syscall });
}

export function engineClosed(name: string): CodedError {
  return coded(new Error(`The ${name} engine is closed`), 'ERR_IOENGINE_CLOSED');
}

export function unknownEngine(name: unknown, known: readonly string[]): CodedError {
  return coded(new TypeError(`Unknown engine ${util.inspect(name)}. Known engines: ${known.join(', ')}, auto`), 'ERR_IOENGINE_UNKNOWN');
}

/** A native engine's set-up failed with errno: node's shape, with what to do about it when known. */
export function engineSetupFailed(name: string, errno: number, syscall: string, reason?: string): SystemError {
  const err = systemError(errno, syscall);
  err.message = `Cannot set up the ${name} engine: ${err.message}${reason ? `: ${reason}` : ''}`;
  Error.captureStackTrace(err, engineSetupFailed);
  return err;
}

/** setZeroCopy() on a socket engine that cannot send without copying here. */
export function zeroCopyUnsupported(engine: string): Error {
  return coded(new Error(`Zero-copy sends are not supported by the ${engine} socket engine here (io_uring on Linux 6.1 or later has them)`), 'ERR_IOENGINE_UNSUPPORTED');
}

export function engineUnavailable(name: string, reason: string): CodedError {
  return coded(new Error(`The ${name} engine is not available here: ${reason}`), 'ERR_IOENGINE_UNAVAILABLE');
}

export function addonMissing(what: string, reason: string): CodedError {
  return coded(new Error(`${what} needs the native addon: ${reason}`), 'ERR_IOENGINE_NO_ADDON');
}

export function noBufferFree(name: string, lent: number): CodedError {
  return coded(new Error(lent > 0
    ? `All ${lent} registered buffers of the ${name} engine are lent: return one with engine.returnBuffer()`
    : `The ${name} engine has no registered buffers: create it with { registeredBuffers: { count, size } } (io_uring)`), 'ERR_IOENGINE_NO_BUFFER');
}

export function fileTooLarge(size: number): CodedError {
  return coded(new RangeError(`File size (${size}) is greater than 2 GiB`), 'ERR_FS_FILE_TOO_LARGE');
}

/** What an aborted operation rejects with, as node:fs does (`name: 'AbortError'`). */
export function abortError(reason?: unknown): Error {
  const err = coded(new Error('The operation was aborted', { cause: reason }), 'ABORT_ERR');
  err.name = 'AbortError';
  return err;
}

// ---- sockets, shaped as node:net makes them ----

export interface NetError extends Error {
  code: string;
  errno: number;
  syscall: string;
  address?: string;
  port?: number;
}

/** `read ECONNRESET`, `write EPIPE`: node's ErrnoException. */
export function netError(errno: number, syscall: string): NetError {
  const code = systemErrors.get(errno)?.[0] ?? `Unknown system error ${errno}`;
  const err = new Error(`${syscall} ${code}`) as NetError;
  err.errno = errno;
  err.code = code;
  err.syscall = syscall;
  return err;
}

/** `connect ECONNREFUSED 127.0.0.1:9`: node's ExceptionWithHostPort (connect). */
export function netHostPortError(errno: number, syscall: string, address: string, port: number): NetError {
  const err = netError(errno, syscall);
  err.message += port > 0 ? ` ${address}:${port}` : address ? ` ${address}` : '';
  err.address = address;
  if (port) err.port = port;
  return err;
}

/** `listen EADDRINUSE: address already in use 127.0.0.1:8080`: node's UVExceptionWithHostPort (listen, bind). */
export function netUvHostPortError(errno: number, syscall: string, address: string, port: number): NetError {
  const [code, description] = systemErrors.get(errno) ?? [`Unknown system error ${errno}`, `Unknown system error ${errno}`];
  const err = new Error(`${syscall} ${code}: ${description}${port > 0 ? ` ${address}:${port}` : address ? ` ${address}` : ''}`) as NetError;
  err.code = code;
  err.errno = errno;
  err.syscall = syscall;
  err.address = address;
  if (port) err.port = port;
  return err;
}
