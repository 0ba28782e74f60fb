/**
 * Checks an `onnx` source's `input` and `output` against the names in the model's graph, read
 * without loading the model (see io/onnxGraph.ts), so a typo shows in the editor instead of
 * when feature extraction starts.
 */
import * as path from 'node:path';
import { closest } from '../../common/util/suggest';
import type { FileProbe } from './arrays';
import type { Experiment } from './schema';
import type { SemanticProblem } from './problem';

/** Where a model folder keeps its graph, in the order features/onnxSource.ts looks. */
export const FOLDER_MODEL_CANDIDATES = [path.join('onnx', 'model.onnx'), 'model.onnx'];

/**
 * The .onnx file a source names, with the field that names it: `model`, else the graph in
 * `folder`. `model` is undefined when the folder has no graph; null when there is nothing to
 * look at (no such folder or file, or the wrong kind: reported elsewhere).
 */
export function onnxModelFile(
  spec: { model?: string; folder?: string },
  baseDir: string,
  files: FileProbe,
): { model: string | undefined; field: 'model' | 'folder' } | null {
  if (spec.model !== undefined) {
    const model = path.resolve(baseDir, spec.model);
    return files.kind(model) === 'file' ? { model, field: 'model' } : null;
  }
  if (spec.folder === undefined) return null;
  const folder = path.resolve(baseDir, spec.folder);
  if (files.kind(folder) !== 'folder') return null;
  return {
    model: FOLDER_MODEL_CANDIDATES.map((c) => path.join(folder, c)).find((c) => files.kind(c) === 'file'),
    field: 'folder',
  };
}

export function onnxProblems(exp: Experiment, baseDir: string, files: FileProbe): SemanticProblem[] {
  const problems: SemanticProblem[] = [];
  exp.pretrained.forEach((s, i) => {
    if (!('onnx' in s)) return;
    const spec = s.onnx;
    const at = (key: string): (string | number)[] => ['pretrained', i, 'onnx', key];
    const found = onnxModelFile(spec, baseDir, files);
    if (!found) return;
    const { model, field: modelField } = found;
    if (!model)
      return void problems.push({
        path: at('folder'),
        message: 'no onnx/model.onnx or model.onnx in the folder; set `model` to the .onnx file',
      });
    let names: Record<'input' | 'output', string[]>;
    try {
      const sig = files.onnx(model);
      names = { input: sig.inputs, output: sig.outputs };
    } catch (e) {
      return void problems.push({ path: at(modelField), message: e instanceof Error ? e.message : String(e) });
    }
    for (const key of ['input', 'output'] as const) {
      const wanted = spec[key];
      if (wanted === undefined || names[key].includes(wanted)) continue;
      const guess = closest(wanted, names[key]);
      const hint = guess ? ` (did you mean \`${guess}\`?)` : '';
      problems.push({
        path: at(key),
        message: `the model has no ${key} \`${wanted}\`${hint}; it has: ${names[key].join(', ')}`,
        ...(guess ? { suggestion: guess } : {}),
      });
    }
  });
  return problems;
}
