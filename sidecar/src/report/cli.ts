/** The `aft report RUN --out FILE` command. */
import * as path from 'node:path';
import { badInput } from '../../../core/common/util/errors';
import { findStudyDir } from '../../../core/node/runs/studies';
import { resolveRunDir, writeRunReport, writeStudyReport } from './report';

export function reportCommand(args: string[], out: string | undefined, workspace: string | undefined): number {
  if (args.length !== 1) throw badInput('aft report takes one run or study (a folder or an id; see aft runs)');
  const ws = path.resolve(workspace ?? process.cwd());
  const studyDir = findStudyDir(args[0], ws);
  if (studyDir) {
    const r = writeStudyReport(studyDir, out ?? `${path.basename(studyDir)}.html`);
    if (r.state !== 'completed')
      process.stderr.write(`warning: the study is ${r.state}: its figure shows the values done so far\n`);
    process.stdout.write(`wrote ${r.file} (${(r.bytes / 1024).toFixed(0)} KiB)\n`);
    return 0;
  }
  const runDir = resolveRunDir(args[0], ws);
  const target = out ?? `${path.basename(runDir)}.html`;
  const r = writeRunReport(runDir, target);
  for (const p of r.problems) process.stderr.write(`warning: ${p}\n`);
  process.stdout.write(`wrote ${r.file} (${(r.bytes / 1024).toFixed(0)} KiB)\n`);
  return 0;
}
