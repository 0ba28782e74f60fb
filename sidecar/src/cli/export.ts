/** `aft export RUN [--method M] [--seed S] --out model.onnx`: see export/exportRun.ts. */
import { exportModel, type ExportReport } from '../export/exportRun';
import { badInput } from '../../../core/common/util/errors';

function costTable(r: ExportReport): string {
  const rows = r.cost.models.map((m) => [
    m.name,
    m.parameters === null ? '?' : m.parameters.toLocaleString('en-US'),
    m.msPerExample.toFixed(4),
  ]);
  const head = ['model', 'parameters', 'ms/example'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

export async function exportCommand(
  args: string[],
  v: {
    out?: string;
    method?: string;
    seed?: string;
    device?: string;
    workspace?: string;
    json?: boolean;
    backend?: string;
  },
): Promise<number> {
  if (args.length !== 1) throw badInput('aft export takes one run (a run folder or a run id; see aft runs)');
  if (!v.out) throw badInput('aft export needs --out FILE.onnx');
  const seed = v.seed !== undefined ? Number(v.seed) : undefined;
  if (seed !== undefined && (!Number.isInteger(seed) || seed < 0))
    throw badInput(`--seed expects a non-negative integer, got '${v.seed}'`);
  const r = await exportModel({
    origin: 'aft export',
    run: args[0],
    workspaceDir: v.workspace ?? process.cwd(),
    out: v.out,
    log: (m) => void process.stderr.write(`${m}\n`),
    ...(v.method ? { method: v.method } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(v.device ? { device: v.device } : {}),
    ...(v.backend ? { backend: v.backend } : {}),
  });
  if (v.json) {
    process.stdout.write(JSON.stringify(r) + '\n');
    return 0;
  }
  process.stdout.write(
    [
      `exported ${r.method} seed ${r.seed} (${r.model}) to ${r.file} (opset ${r.opset}, ${(r.bytes / 1024).toFixed(1)} KiB)`,
      `verified on ${r.verification.examples} test examples: max |logit difference| ${r.verification.maxAbsDiff.toExponential(2)} (limit ${r.verification.tolerance})`,
      `inference cost in onnxruntime (${r.cost.provider}, batch ${r.cost.batch}):`,
      costTable(r),
      '',
    ].join('\n'),
  );
  return 0;
}
