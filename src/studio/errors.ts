// The one error the studio's routes throw on purpose.
import { GraftError } from '../core/errors.js';

/** A request the studio refuses: the HTTP status and a one-line reason. */
export class StudioError extends GraftError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message, 1);
  }
}
