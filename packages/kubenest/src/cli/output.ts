/** An error meant for the user: printed without a stack trace, exit code 1. */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** Progress goes to stderr so stdout stays clean for output meant for scripts. */
export function say(line: string): void {
  process.stderr.write(`kubenest: ${line}\n`);
}
