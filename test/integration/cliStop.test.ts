/**
 * `aft stop RUN`: a run trained by another process (here `aft run` in a terminal) is asked to stop
 * through its folder and ends cancelled; a run that is not running is refused (exit 2).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { listRuns, readRunStatus } from '../../core/node/runs/store';
import { writeArrayWorkspace } from '../helpers/arrayWorkspace';
import { until } from '../helpers/numeric';
import { aftArgs, runAft } from '../helpers/cli';

describe('aft stop', () => {
  it('stops a run another process trains; a run that is not running is refused', async () => {
    const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-stop-'));
    writeArrayWorkspace(ws, { train: 200, test: 40 });
    fs.writeFileSync(
      path.join(ws, 'exp.aft.yaml'),
      `name: long
dataset: { source: npy, train: { inputs: x_train.npy, labels: y_train.npy }, test: { inputs: x_test.npy, labels: y_test.npy } }
downstream: { model: mlp, hidden: [16] }
methods: [stl]
train: { steps: 1000000, batch: 20 }
`,
    );
    const runner = spawn(process.execPath, aftArgs(['run', 'exp.aft.yaml', '--backend', 'cpu']), {
      cwd: ws,
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((r) => runner.once('exit', (code) => r(code)));
    try {
      await until('the run trains', () => {
        const r = listRuns(ws)[0];
        return r !== undefined && (r.status.progress?.fraction ?? 0) > 0;
      });
      const dir = listRuns(ws)[0].dir;
      const stop = runAft(['stop', path.basename(dir)], ws);
      assert.equal(stop.code, 0, stop.stderr);
      assert.equal(await exited, 1, 'aft run exits 1: cancelled');
      assert.equal(readRunStatus(dir).state, 'cancelled');
      const again = runAft(['stop', path.basename(dir)], ws);
      assert.equal(again.code, 2);
      assert.match(again.stderr, /is not running/);
    } finally {
      runner.kill('SIGKILL');
    }
  });
});
