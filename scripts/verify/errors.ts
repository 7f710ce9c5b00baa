/** A bad argument: `arg` is the flag (or env key) at fault; the message says why and the fix. */
export class VerifyArgError extends Error {
  constructor(
    readonly arg: string,
    message: string,
  ) {
    super(`${arg}: ${message}`);
    this.name = 'VerifyArgError';
  }
}
