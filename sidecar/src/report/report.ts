/**
 * `aft report`: a run's dashboard as one self-contained HTML file (for runs made on a remote
 * machine, or to send to a colleague). It reads the run store like the extension does, with the
 * same downsampling, and inlines the same bundled dashboard the extension shows.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AftError } from '../../../core/common/util/errors';
import type { RunMessage, StudyMessage, WebviewApp } from '../../../core/common/protocol/webview';
import { readStudy } from '../../../core/node/runs/studies';
import { REPORT_DATA_ID } from '../../../core/common/view/reportData';
import { RunAccumulator } from '../../../core/common/view/runAccumulator';
import { RunReader } from '../../../core/node/runs/reader';
import { reportPage } from '../../../core/node/html/page';
import { writeFileAtomic } from '../../../core/node/util/fsx';

export interface WebviewAssets {
  js: string;
  css: string;
}

/** Where the bundled webviews are: next to the bundled CLI, or dist/ when running from source. */
export function webviewAssetsDir(): string {
  const candidates = [
    process.env.AFT_WEBVIEWS_DIR,
    path.join(__dirname, '..', 'webviews'),
    path.resolve(__dirname, '..', '..', '..', 'dist', 'webviews'),
  ].filter((d): d is string => !!d);
  const found = candidates.find((d) => fs.existsSync(path.join(d, 'dashboard.js')));
  // An installation that lacks its build, not a bug: said without a stack.
  if (!found)
    throw new AftError(
      'run_failed',
      `the bundled dashboard (dashboard.js) is missing; looked in ${candidates.join(', ')}. Build it with \`npm run build\` (scripts/build-webviews.mjs).`,
    );
  return found;
}

export function readAssets(dir: string, app: WebviewApp): WebviewAssets {
  return {
    js: fs.readFileSync(path.join(dir, `${app}.js`), 'utf8'),
    css: fs.readFileSync(path.join(dir, `${app}.css`), 'utf8'),
  };
}

export { resolveRunDir } from '../../../core/node/runs/store';

/** The report page for one run. Problems reading it (bad lines, bad files) are returned, not fatal. */
export function runReportHtml(runDir: string, assets: WebviewAssets): { html: string; problems: string[] } {
  const acc = new RunAccumulator(path.basename(runDir), path.basename(runDir));
  // A finished run's metrics.view.json holds what the report inlines: read it, not every row.
  const reader = new RunReader(runDir, { viewPoints: acc.maxPoints });
  const problems: string[] = [];
  for (let more = true; more;) {
    const changes = reader.poll();
    acc.apply(changes);
    problems.push(...changes.problems);
    more = changes.more;
  }
  const run = acc.snapshot();
  const message: RunMessage = { type: 'run', run };
  const title = `${run.status.experiment || run.runId} · AFT run report`;
  return {
    html: reportPage({
      title,
      js: assets.js,
      css: assets.css,
      data: message,
      dataId: REPORT_DATA_ID,
      generator: 'aft report',
    }),
    problems,
  };
}

export function writeRunReport(
  runDir: string,
  outFile: string,
  assetsDir = webviewAssetsDir(),
): { file: string; bytes: number; problems: string[] } {
  const { html, problems } = runReportHtml(runDir, readAssets(assetsDir, 'dashboard'));
  const file = path.resolve(outFile);
  writeFileAtomic(file, html);
  return { file, bytes: Buffer.byteLength(html), problems };
}

/** The report page for one study: its figure, mean ρ, table and runs, as the study view shows them. */
export function studyReportHtml(studyDir: string, assets: WebviewAssets): string {
  const study = readStudy(studyDir);
  const message: StudyMessage = { type: 'study', study };
  return reportPage({
    title: `${study.record.studyId} · AFT study report`,
    js: assets.js,
    css: assets.css,
    data: message,
    dataId: REPORT_DATA_ID,
    generator: 'aft report',
  });
}

export function writeStudyReport(
  studyDir: string,
  outFile: string,
  assetsDir = webviewAssetsDir(),
): { file: string; bytes: number; state: string } {
  const html = studyReportHtml(studyDir, readAssets(assetsDir, 'study'));
  const file = path.resolve(outFile);
  writeFileAtomic(file, html);
  return { file, bytes: Buffer.byteLength(html), state: readStudy(studyDir).state };
}
