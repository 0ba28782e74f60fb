/**
 * Rows of labelled text from CSV (RFC 4180: quoted fields, doubled quotes, newlines inside quotes,
 * CRLF; a header row names the columns; .tsv uses tabs) or JSONL (one JSON object per line).
 * Files must be UTF-8; anything else is refused with the byte offset and line of the first
 * invalid sequence, since silently replaced characters would change the prompts and the cache key.
 */
import { badInput } from '../../../core/common/util/errors';
import { readUserText } from '../../../core/node/io/userFile';

/** Past V8's longest string (~512 MB) a file cannot be decoded at all. */
const MAX_TABLE_BYTES = 500 * 1024 * 1024;

export interface Row {
  /** 1-based line where the row starts, for messages. */
  line: number;
  values: Record<string, string>;
}

/** A table file's text: a regular file, strict UTF-8 (see core/node/io/userFile.ts). */
export function readUtf8(file: string, field: string): string {
  return readUserText(file, { what: 'table file', field, maxBytes: MAX_TABLE_BYTES });
}

function parseCsv(text: string, sep: string, file: string, field: string): Row[] {
  const records: { line: number; cells: string[] }[] = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  let i = 0;
  const endRecord = (): void => {
    cells.push(cell);
    if (!(cells.length === 1 && cells[0] === '')) records.push({ line: start, cells });
    cells = [];
    cell = '';
  };
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 2;
        continue;
      }
      if (ch === '"') quoted = false;
      else {
        if (ch === '\n') line++;
        cell += ch;
      }
      i++;
      continue;
    }
    if (ch === '"' && cell === '') quoted = true;
    else if (ch === sep) {
      cells.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      start = line;
    } else cell += ch;
    i++;
  }
  if (quoted) throw badInput(`a quoted field starting on line ${start} is never closed`, { file, field, line: start });
  if (cell !== '' || cells.length) endRecord();
  const header = records.shift();
  if (!header) throw badInput('the file is empty (expected a header row)', { file, field });
  return records.map((r) => {
    if (r.cells.length !== header.cells.length) {
      throw badInput(
        `row has ${r.cells.length} field${r.cells.length === 1 ? '' : 's'} but the header has ${header.cells.length}`,
        { file, field, line: r.line },
      );
    }
    return { line: r.line, values: Object.fromEntries(header.cells.map((h, k) => [h.trim(), r.cells[k]])) };
  });
}

function parseJsonl(text: string, file: string, field: string): Row[] {
  const rows: Row[] = [];
  text.split('\n').forEach((raw, k) => {
    const s = raw.trim();
    if (!s) return;
    let v: unknown;
    try {
      v = JSON.parse(s);
    } catch (e) {
      throw badInput(`not valid JSON: ${(e as Error).message}`, { file, field, line: k + 1 });
    }
    if (!v || typeof v !== 'object' || Array.isArray(v))
      throw badInput('each line must be a JSON object', { file, field, line: k + 1 });
    const values: Record<string, string> = {};
    for (const [key, val] of Object.entries(v)) values[key] = typeof val === 'string' ? val : JSON.stringify(val);
    rows.push({ line: k + 1, values });
  });
  return rows;
}

/** Reads the rows of a .csv, .tsv or .jsonl file. */
export function readTable(file: string, field: string): Row[] {
  const text = readUtf8(file, field).replace(/^\uFEFF/, '');
  if (/\.jsonl$|\.ndjson$/i.test(file)) return parseJsonl(text, file, field);
  if (/\.csv$/i.test(file)) return parseCsv(text, ',', file, field);
  if (/\.tsv$/i.test(file)) return parseCsv(text, '\t', file, field);
  throw badInput('expected a .csv, .tsv or .jsonl file', { file, field });
}
