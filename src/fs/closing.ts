// A path operation's own file, closed once the operation is done, as node's fs/promises does
// (handleFdClose): the operation's result after a good close; its error if it failed; and if
// close fails too, both, in one AggregateError that carries the operation's message and code.

/** What closing() needs of a file handle. */
export interface Closable {
  close(): Promise<void>;
}

export async function closing<T>(handle: Closable, op: Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await op;
  } catch (opError) {
    try {
      await handle.close();
    } catch (closeError) {
      throw together(opError, closeError);
    }
    throw opError;
  }
  await handle.close();
  return result;
}

/** The first error, with the second beside it (node's aggregateTwoErrors). */
function together(first: unknown, second: unknown): unknown {
  if (first === second || !first || !second) return first || second;
  const errors = (first as { errors?: unknown }).errors;
  if (Array.isArray(errors)) {
    errors.push(second);
    return first;
  }
  const both = new AggregateError([first, second], (first as Error).message) as AggregateError & { code?: unknown };
  both.code = (first as { code?: unknown }).code;
  return both;
}
