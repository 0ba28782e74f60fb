/**
 * Cheap checks that run before the YAML parser sees a document, so that input it handles badly
 * (megabytes of text, binary junk, nesting thousands deep: seconds of parsing per keystroke)
 * gets one clear diagnostic instead. The language server runs them on every document, and
 * `aft validate`, `aft run` and the sidecar on every experiment file they read.
 */

/** Experiment files are hand-written and a few kilobytes; past this the server does not parse them. */
export const MAX_CHECKED_CHARS = 1024 * 1024;
/** Nesting a real experiment file never needs; the parser takes seconds on 10,000 levels. */
export const MAX_FLOW_DEPTH = 64;
export const MAX_INDENT = 512;

export interface Refusal {
  message: string;
  /** 0-based offset the diagnostic points at. */
  offset: number;
}

export function refuse(text: string): Refusal | undefined {
  if (text.length > MAX_CHECKED_CHARS) {
    const mb = (n: number): string => (n / (1024 * 1024)).toFixed(1);
    return {
      offset: 0,
      message: `this file is ${mb(text.length)} MB; experiment files over ${mb(MAX_CHECKED_CHARS)} MB are not checked`,
    };
  }
  const nul = text.indexOf('\0');
  if (nul >= 0 || looksBinary(text))
    return { offset: Math.max(nul, 0), message: 'this looks like a binary file, not YAML text' };
  return tooDeep(text);
}

function looksBinary(text: string): boolean {
  // U+FFFD is what invalid UTF-8 decodes to; control characters other than tab/newline/CR are
  // not allowed in YAML either. A few may be typos; many mean the file is not text.
  const head = text.slice(0, 4096);
  let odd = 0;
  for (let i = 0; i < head.length; i++) {
    const c = head.charCodeAt(i);
    if (c === 0xfffd || (c < 32 && c !== 9 && c !== 10 && c !== 13)) odd++;
  }
  return odd > 8 && odd > head.length / 20;
}

/** Flow brackets nested deeper than MAX_FLOW_DEPTH, or a line indented past MAX_INDENT. */
function tooDeep(text: string): Refusal | undefined {
  let depth = 0;
  let lineStart = true;
  let indent = 0;
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') {
      lineStart = true;
      indent = 0;
      quote = '';
      continue;
    }
    if (lineStart) {
      // Block nesting shows as indentation, also through "- - -" compact sequences.
      if (c === ' ' || c === '-' || c === '\t' || c === '?') {
        if (++indent > MAX_INDENT)
          return {
            offset: i,
            message: `nesting is more than ${MAX_INDENT} columns deep; an experiment file needs a few levels`,
          };
        continue;
      }
      lineStart = false;
    }
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]))) {
      const end = text.indexOf('\n', i);
      i = (end < 0 ? text.length : end) - 1;
    } else if (c === '[' || c === '{') {
      if (++depth > MAX_FLOW_DEPTH)
        return {
          offset: i,
          message: `brackets are nested more than ${MAX_FLOW_DEPTH} deep; an experiment file needs a few levels`,
        };
    } else if ((c === ']' || c === '}') && depth > 0) {
      depth--;
    }
  }
  return undefined;
}
