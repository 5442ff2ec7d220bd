/**
 * An error caused by the user's input (a file, a config key, a flag). The CLI prints its
 * message as one line, without a stack trace, and exits non-zero. The message must name the
 * file and line or key, and say what was expected.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

/** Builds "<file>:<line>: <what>" style messages consistently. */
export function at(file: string, line: number | undefined, what: string): string {
  return line === undefined ? `${file}: ${what}` : `${file}:${line}: ${what}`;
}
