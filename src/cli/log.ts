/** The commands' standard output: one line at a time (progress and errors go to stderr). */
export const log = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
