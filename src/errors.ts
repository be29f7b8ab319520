/**
 * One base error with a stable `code`, a subclass per kind. Callers branch on `code`, never on
 * message text, so messages can improve without breaking anything.
 */
export class PfsteerError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A position in a source text, 1-based as editors show it. */
export interface SourcePosition {
  line: number;
  col: number;
}

/** One located problem in a config file. */
export interface ConfigIssue {
  code: string;
  message: string;
  /** Absent only when the problem concerns the file as a whole (unreadable, empty). */
  pos?: SourcePosition;
}

/** Every problem found in one config file, reported together. */
export class ConfigError extends PfsteerError {
  readonly file: string;
  readonly issues: readonly ConfigIssue[];

  constructor(file: string, issues: readonly ConfigIssue[], options?: { cause?: unknown }) {
    const first = issues[0];
    super(first?.code ?? 'config', `${file}: ${issues.length} configuration problem(s)`, options);
    this.file = file;
    this.issues = issues;
  }
}

/** A command line that cannot be acted on (exit code 2). */
export class UsageError extends PfsteerError {
  constructor(message: string, code = 'usage') {
    super(code, message);
  }
}
