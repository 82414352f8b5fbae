/**
 * Typed errors shared by every area of the library.
 *
 * Every error that comes from bad input names the file (or the action) and what is wrong,
 * in sentence case without a final period, e.g.
 * `Cannot read "x.npy": header declares 4 dims but data holds 12 bytes`.
 *
 * @module
 */

/** Base class of every error this library throws on purpose. */
export class SoupError extends Error {
  /** The file the error is about, when there is one. */
  readonly file: string | undefined;

  /**
   * @param message Full message, already naming the file or action.
   * @param options `file`: the path concerned; `cause`: an underlying error.
   */
  constructor(message: string, options: { file?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.file = options.file;
  }
}

/**
 * A file exists but its content is malformed: truncated, wrong magic, inconsistent header.
 *
 * @example
 * ```ts
 * import { FormatError } from "./errors.ts";
 * const e = FormatError.at("x.npy", "truncated header");
 * if (e.message !== 'Cannot read "x.npy": truncated header') throw new Error(e.message);
 * ```
 */
export class FormatError extends SoupError {
  /** Builds `Cannot read "<file>": <problem>`. */
  static at(file: string, problem: string, cause?: unknown): FormatError {
    return new FormatError(`Cannot read "${file}": ${problem}`, { file, cause });
  }
}

/** A configuration (config.json, options) is missing a field or holds an unsupported value. */
export class ConfigError extends SoupError {
  /** The offending field, e.g. `time_step_rank`. */
  readonly field: string | undefined;

  /**
   * @param message Full message naming the field.
   * @param options `file`, `field` and `cause`.
   */
  constructor(message: string, options: { file?: string; field?: string; cause?: unknown } = {}) {
    super(message, options);
    this.field = options.field;
  }
}

/** Something needed is not available here: a file absent from every source, no network. */
export class NotFoundError extends SoupError {}
