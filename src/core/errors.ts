// One error type the CLI knows how to print: a message and the exit code it maps to
// (2: the user asked for something impossible; 1: it failed while doing it; 3: it did part of
// it, e.g. a sweep some of whose trials failed, each row saying why).
export class GraftError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 | 3 = 1,
  ) {
    super(message);
    this.name = 'GraftError';
  }
}

export const usageError = (message: string) => new GraftError(message, 2);
export const partialFailure = (message: string) => new GraftError(message, 3);
