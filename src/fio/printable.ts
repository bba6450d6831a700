// What the CLI prints of the user's own text (a job file's lines, option values, names in a
// results file): control characters are shown as \xNN, never sent to the terminal raw, where an
// escape sequence would recolour, retitle or rewrite it.
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

export function printable(text: string): string {
  return text.replace(CONTROL, c => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
