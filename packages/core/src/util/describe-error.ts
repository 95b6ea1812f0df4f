/** One-line description of any error, for logs. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    // gRPC ends "No connection established" with "Resolution note:" even when the note is empty.
    const msg = err.message
      .replace(/\s+/g, ' ')
      .trim()
      .replace(/\s*Resolution note:$/, '');
    return msg || err.name;
  }
  return String(err);
}
