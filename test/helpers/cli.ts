/** The `aft` CLI from its sources, as the tests run it: a separate Node process through tsx. */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

const root = path.join(__dirname, '..', '..');
const cli = path.join(root, 'sidecar', 'src', 'cli', 'index.ts');
// tsx is resolved from the repo, not from the temporary folders the commands run in.
const tsx = pathToFileURL(path.join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

/** Node's arguments that run `aft ARGS` (for spawn, when a test needs the process itself). */
export function aftArgs(args: string[]): string[] {
  return ['--import', tsx, cli, ...args];
}

/** Runs `aft ARGS` in `cwd` to its end; `env` is added to this process's environment. */
export function runAft(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, aftArgs(args), { cwd, encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
