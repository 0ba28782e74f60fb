/** The `aft report RUN --out FILE` command. */
import * as path from 'node:path';
import { badInput } from '../../../core/common/util/errors';
import { resolveRunDir, writeRunReport } from './report';

export function reportCommand(args: string[], out: string | undefined, workspace: string | undefined): number {
  if (args.length !== 1) throw badInput('aft report takes one run (a run folder or a run id; see aft runs)');
  const runDir = resolveRunDir(args[0], path.resolve(workspace ?? process.cwd()));
  const target = out ?? `${path.basename(runDir)}.html`;
  const r = writeRunReport(runDir, target);
  for (const p of r.problems) process.stderr.write(`warning: ${p}\n`);
  process.stdout.write(`wrote ${r.file} (${(r.bytes / 1024).toFixed(0)} KiB)\n`);
  return 0;
}
