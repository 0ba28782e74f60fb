/**
 * Diagnostics of a document: the guards' refusal, or every problem `validateParsed` finds
 * (YAML syntax, the schema, cross-field and file checks, and the pretrained student's folder as
 * `aft validate` checks it, without the memory estimate), as LSP diagnostics. Each problem
 * becomes exactly one diagnostic: the same range and message are never published twice.
 */
import { DiagnosticSeverity, type Diagnostic, type Range } from 'vscode-languageserver';
import { validateParsed, type ExtraChecks, type Problem } from '../../core/node/experiment/validate';
import { checkExperimentStudent } from '../../core/node/students/experimentStudent';
import type { Analysis } from './analysis';
import type { EditorFiles } from './fileCache';

export const SOURCE = 'aft';

/** What a quick fix needs from a diagnostic (the LSP carries it in `data`). */
export interface FixData {
  kind?: Problem['kind'];
  path: (string | number)[];
  suggestion?: string;
}

export function diagnose(a: Analysis, files: EditorFiles): Diagnostic[] {
  if (a.refusal) {
    const at = positionAt(a.text, a.refusal.offset);
    return [
      { range: { start: at, end: at }, severity: DiagnosticSeverity.Error, source: SOURCE, message: a.refusal.message },
    ];
  }
  if (!a.parsed) return [];
  let problems: Problem[];
  try {
    // An unsaved document's paths are not checked, so neither is its student's folder.
    const { baseDir } = a;
    const student: ExtraChecks | undefined =
      baseDir === undefined
        ? undefined
        : (exp) => checkExperimentStudent(exp, baseDir, (folder) => files.studentFolder(folder)).problems;
    problems = validateParsed(a.parsed, baseDir, files, student).problems;
  } catch (e) {
    // A bug in a check must not take the server down with it: say so where the user looks.
    const message = `could not check this file: ${e instanceof Error ? e.message : String(e)}`;
    return [
      {
        range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
        severity: DiagnosticSeverity.Error,
        source: SOURCE,
        message,
      },
    ];
  }
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const p of problems) {
    const d = toDiagnostic(p, a.text);
    const { start, end } = d.range;
    const key = `${start.line}:${start.character}:${end.line}:${end.character}:${p.field}:${p.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(d);
  }
  return out;
}

function toDiagnostic(p: Problem, text: string): Diagnostic {
  const range: Range = {
    start: { line: p.line - 1, character: p.column - 1 },
    end: { line: p.endLine - 1, character: p.endColumn - 1 },
  };
  // A missing field is reported on the mapping that lacks it; underlining the whole mapping
  // (for a missing top-level field, the whole file) hides every other squiggle.
  if (p.kind === 'missing_field' && range.end.line > range.start.line)
    range.end = { line: range.start.line, character: lineLength(text, range.start.line) };
  const data: FixData = {
    path: p.path,
    ...(p.kind ? { kind: p.kind } : {}),
    ...(p.suggestion !== undefined ? { suggestion: p.suggestion } : {}),
  };
  return {
    range,
    severity: p.severity === 'warning' ? DiagnosticSeverity.Warning : DiagnosticSeverity.Error,
    source: SOURCE,
    message: p.field === '(file)' ? p.message : `${p.field}: ${p.message}`,
    ...(p.kind ? { code: p.kind } : {}),
    data,
  };
}

function lineLength(text: string, line: number): number {
  let start = 0;
  for (let l = 0; l < line; l++) start = text.indexOf('\n', start) + 1;
  const end = text.indexOf('\n', start);
  return (end < 0 ? text.length : end) - start;
}

function positionAt(text: string, offset: number): { line: number; character: number } {
  let line = 0;
  let start = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, character: offset - start };
}
