/**
 * CSV export (RFC 4180): fields with commas, quotes or line breaks are quoted. Text that came
 * from run files could start with `=`, `+`, `-` or `@` and be run as a formula by a spreadsheet;
 * such text is prefixed with an apostrophe (numbers are written as numbers).
 */
export type CsvCell = string | number | null | undefined;

export function csvField(v: CsvCell): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  let s = v;
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(header: readonly string[], rows: Iterable<readonly CsvCell[]>): string {
  const lines = [header.map(csvField).join(',')];
  for (const r of rows) lines.push(r.map(csvField).join(','));
  return lines.join('\r\n') + '\r\n';
}
