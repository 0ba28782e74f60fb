/**
 * `aft`: the command-line front end over the engine. Exit codes: 0 ok, 1 the run failed or was
 * cancelled, 2 bad input (the message says where and what).
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { experimentJsonSchema, BACKEND_CHOICES } from '../../../core/node/experiment/schema';
import { checkExperimentFile, formatProblem, loadExperiment, experimentFromText } from '../experiment/load';
import { CLI_ORIGIN, cliOverrides, parseOverrides } from '../../../core/node/experiment/overrides';
import type { RunEvent } from '../../../core/common/protocol/events';
import { listRuns, requestStop, resolveRunDir } from '../../../core/node/runs/store';
import { activeBackend } from '../runtime/tf';
import { adapterLine } from '../runtime/webgpu';
import { MNIST_DEMO } from '../../../core/node/experiment/templates';
import { runExperiment, type ExperimentInput } from '../train/run';
import { runShard, unfinishedShardedRun, type ShardOutcome } from '../train/shards/runShard';
import { runStudy, type StudyInput } from '../study/runStudy';
import { listStudies, readStudy } from '../../../core/node/runs/studies';
import { studyFigure, studyFigureTable } from '../../../core/common/view/studyFigure';
import { AftError, badInput, describeError, ERROR_CODES } from '../../../core/common/util/errors';
import { resultsTable, textTable } from './table';
import { exportCommand } from './export';
import { extractCommand, parseShard } from './extract';
import { gpuCommand } from './gpu';
import { predictCommand } from './predict';
import { useGpuRuntime } from '../runtime/gpuRuntime';
import { reportCommand } from '../report/cli';
import { compareRuns, comparisonTable } from '../compare/compare';
import { formatDuration, TerminalReporter } from './terminal';
import { memoryJson } from '../memory/report';

const VERSION = '0.1.0';

const HELP = `aft ${VERSION}: Adaptive Feature Transfer from large pre-trained models to small ones

Usage:
  aft run FILE [options]     run an experiment file (*.aft.yaml); a file with 'study:' runs
                             each value as its own run in one study folder, and continues an
                             unfinished study of the same file (--new-study: start another)
  aft demo [options]         run the built-in MNIST low-data demo (STL, KD, AFT; 3 seeds)
  aft validate FILE [--json] check an experiment file and list its problems: the files it
                             names (array and ONNX headers, a pretrained student's config.json
                             and safetensors header) and the student's memory estimate against
                             the backend
  aft runs [--workspace DIR] list runs and their state
  aft stop RUN [--workspace DIR]
                             stop a run another process trains (a terminal, a cluster job, a
                             window that closed): it ends cancelled within a second and a step
  aft compare RUN...         one table of methods × runs, and the correlation of each method's
                             accuracy with the linear probe of the run's sources (--json)
  aft report RUN [--out F]   write a run's dashboard (or a study's figure) as one
                             self-contained HTML file
  aft extract FILE [--shard i/n]
                             extract and cache the features of the file's ONNX sources
                             (shard i of n, 0-based, for cluster job arrays)
  aft export RUN --out F.onnx [--method M] [--seed S] [--device auto|cuda|webgpu|cpu]
                             export a trained downstream model to ONNX, verified against
                             the trained model, with its inference cost vs the pre-trained ones
  aft predict MODEL --input X.npy|DIR|T.csv [--out LOGITS.npy] [--features F.npy]
                             run a student folder (timm hub layout or a transformers BERT/
                             DistilBERT folder) or a run's model (RUN [--method M] [--seed S])
                             on X: images [N, C, H, W] float32, resized and normalised, as the
                             PyTorch module takes them (a run's MLP or CNN: [N, ...] as its
                             dataset gives them), or on a folder of images prepared as the
                             model's training prepared them (rows in name order, listed in
                             LOGITS.files.txt); writes logits and φ. A text student takes
                             token ids [N, T] int64 with --attention-mask M.npy (default all
                             1), or a .csv/.tsv/.jsonl tokenised with the folder's own
                             tokenizer.json (--text-column C: default 'text', else the only
                             non-numeric column); a bare BertModel has no head: --features only
  aft schema                 print the experiment JSON Schema
  aft gpu check [--dir DIR] [--json]
                             what the GPU backends need against what this machine has: the
                             NVIDIA driver (nvidia-smi), CUDA and cuDNN (ldconfig -p,
                             LD_LIBRARY_PATH), the WebGPU adapter; a verdict for gpu
                             (tfjs-node-gpu: CUDA 11.2, cuDNN 8.1), onnx-cuda (onnxruntime's
                             CUDA provider: CUDA 12, cuDNN 9) and webgpu, with what to install
  aft gpu install [--dir DIR]
                             install tfjs-node-gpu and onnxruntime's CUDA provider with npm
                             (network needed; nothing changes if it fails), then check. DIR:
                             default $AFT_GPU_RUNTIME, else ~/.local/share/aft-studio/gpu-runtime
  aft --help | --version

Options for run and demo:
  --backend B        compute backend: ${BACKEND_CHOICES.join('|')} (default: the file's, else auto)
  --seeds 0,1,2      override the seeds
  --steps N          override the training steps
  --methods a,b      run only these methods
  --workspace DIR    where .aft/runs/ is written (default: the current folder)
  --json             one JSON event per line on stdout (the events the VS Code extension reads)
  --new-study        with a study: start a new one even if this file's last one is unfinished
  --shard i/n        run shard i of n (0-based; Slurm: $SLURM_ARRAY_TASK_ID, Kubernetes:
                     $JOB_COMPLETION_INDEX): every n-th job of the plan, into one run folder
                     the n processes share (the workspace on shared storage); the last to
                     finish writes the summary. A plain 'aft run' completes a partly done one.
                     A study: every value's jobs, value after value
  --run-id ID        the shared run (or study) folder's name (default: <name>-shards; a
                     study: <name>-study-shards); e.g. exp-$SLURM_ARRAY_JOB_ID
  --verbose          also print debug logs

Exit codes: 0 ok, 1 run failed or cancelled (aft gpu: something is missing), 2 bad input.`;

interface Cli {
  positionals: string[];
  values: {
    dir?: string;
    backend?: string;
    seeds?: string;
    steps?: string;
    methods?: string;
    workspace?: string;
    out?: string;
    input?: string;
    features?: string;
    'attention-mask'?: string;
    'text-column'?: string;
    shard?: string;
    'run-id'?: string;
    method?: string;
    seed?: string;
    device?: string;
    json?: boolean;
    'new-study'?: boolean;
    verbose?: boolean;
    help?: boolean;
    version?: boolean;
  };
}

function parse(argv: string[]): Cli {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        backend: { type: 'string' },
        dir: { type: 'string' },
        seeds: { type: 'string' },
        steps: { type: 'string' },
        methods: { type: 'string' },
        workspace: { type: 'string' },
        out: { type: 'string', short: 'o' },
        input: { type: 'string' },
        features: { type: 'string' },
        'attention-mask': { type: 'string' },
        'text-column': { type: 'string' },
        shard: { type: 'string' },
        'run-id': { type: 'string' },
        method: { type: 'string' },
        seed: { type: 'string' },
        device: { type: 'string' },
        json: { type: 'boolean' },
        'new-study': { type: 'boolean' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (e) {
    throw badInput(`${(e as Error).message} (see aft --help)`);
  }
}

async function runCommand(input: ExperimentInput | StudyInput, cli: Cli, command: string): Promise<number> {
  const v = cli.values;
  // The flags are checked by the experiment file's own field schemas, before anything runs.
  const origin = CLI_ORIGIN(command);
  const overrides = parseOverrides(cliOverrides(v), origin);
  const shard = parseShard(v.shard);
  const runId = v['run-id'];
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (): void => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    if (!v.json) process.stderr.write('\ncancelling (press Ctrl-C again to quit at once)...\n');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const reporter = new TerminalReporter(process.stderr, v.verbose);
  const print = v.json
    ? (e: RunEvent): void => void process.stdout.write(JSON.stringify(e) + '\n')
    : (e: RunEvent): void => reporter.handle(e);
  // Whether the run said how it failed (its error included) through its events. A study's
  // completed run says nothing of the next one, which may fail before its folder exists.
  let reported = false;
  const sink = (e: RunEvent): void => {
    if (e.type === 'status') reported = e.state === 'failed' || e.state === 'cancelled';
    print(e);
  };
  const t0 = performance.now();
  try {
    if ('study' in input) {
      const outcome = await runStudy(input, {
        workspaceDir: path.resolve(v.workspace ?? process.cwd()),
        ...overrides,
        origin,
        signal: controller.signal,
        sink,
        newStudy: v['new-study'] ?? false,
        ...(shard ? { shard } : {}),
        ...(runId !== undefined ? { runId } : {}),
      });
      reporter.done();
      if (!v.json) {
        const study = readStudy(outcome.dir);
        const fig = studyFigure(study.record, study.values);
        process.stdout.write(
          `\n${fig.title}\n${textTable(studyFigureTable(fig))}\n\ntotal time ${formatDuration((performance.now() - t0) / 1000)}\nstudy folder: ${outcome.dir}\n`,
        );
      }
      return 0;
    }
    const runOptions = {
      workspaceDir: path.resolve(v.workspace ?? process.cwd()),
      ...overrides,
      origin,
      signal: controller.signal,
      sink,
    };
    // A sharded run (--shard, --run-id), or the unfinished one of this plan that a plain run completes.
    const sharded =
      shard !== undefined || runId !== undefined ? true : unfinishedShardedRun(input, runOptions) !== undefined;
    const outcome = sharded
      ? await runShard(input, {
          ...runOptions,
          ...(shard ? { shard } : {}),
          ...(runId !== undefined ? { runId } : {}),
        })
      : await runExperiment(input, runOptions);
    reporter.done();
    if (!outcome.summary) {
      const o = outcome as ShardOutcome;
      if (!v.json)
        process.stdout.write(
          `\n${shard ? `shard ${shard.index}/${shard.count}` : 'this process'} is done: ${o.trained} job${o.trained === 1 ? '' : 's'} trained here; ${o.done} of ${o.jobs} jobs of the run are done (the shard that finishes the last one writes the summary; \`aft run\` without --shard completes it)\nrun folder: ${o.dir}\n`,
        );
      return 0;
    }
    if (!v.json) {
      const s = outcome.summary;
      process.stdout.write(`\n${resultsTable(s)}\n`);
      const teacher = s.teacher;
      if (teacher)
        process.stdout.write(
          `\nteacher (mnist-teacher) accuracy on its own held-out digits: ${(teacher.validation_accuracy * 100).toFixed(2)}%${teacher.built_seconds ? ` (built in ${formatDuration(teacher.built_seconds)})` : ' (cached)'}\n`,
        );
      const adapter = activeBackend()?.adapter;
      process.stdout.write(
        `\nbackend ${s.backend}${adapter ? ` on ${adapterLine(adapter)}` : ''}; total time ${formatDuration((performance.now() - t0) / 1000)}\nrun folder: ${outcome.dir}\n`,
      );
    }
    return 0;
  } catch (e) {
    reporter.done();
    if (reported) return e instanceof AftError ? ERROR_CODES[e.code].exit : 1;
    // Failed before the run could report anything (its folder could not be written): said here, once.
    if (v.json)
      process.stdout.write(
        JSON.stringify({
          type: 'log',
          level: 'error',
          message: describeError(e),
          timestamp: Date.now(),
        } satisfies RunEvent) + '\n',
      );
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export async function main(argv: string[]): Promise<number> {
  const cli = parse(argv);
  const [cmd, ...rest] = cli.positionals;
  // The GPU runtime `aft gpu install` put in place, if any: loadable from here on.
  useGpuRuntime();
  if (cli.values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (cli.values.help || cmd === undefined || cmd === 'help') {
    process.stdout.write(HELP + '\n');
    return cmd === undefined && !cli.values.help ? 2 : 0;
  }
  switch (cmd) {
    case 'run': {
      if (rest.length !== 1) throw badInput('aft run takes one experiment file (see aft --help)');
      // The student's memory is held against the backend the run will use (--backend, checked again with the other flags).
      const backend = BACKEND_CHOICES.find((b) => b === cli.values.backend);
      const loaded = loadExperiment(rest[0], backend ? { backend } : {});
      for (const w of loaded.warnings) process.stderr.write(formatProblem(loaded.file, w) + '\n');
      const input = { experiment: loaded.experiment, baseDir: loaded.baseDir, sourceText: loaded.text };
      return runCommand(loaded.study ? { ...input, file: loaded.file, study: loaded.study } : input, cli, cmd);
    }
    case 'demo': {
      const experiment = experimentFromText(MNIST_DEMO.text, process.cwd(), MNIST_DEMO.fileName);
      return runCommand({ experiment, baseDir: process.cwd(), sourceText: MNIST_DEMO.text }, cli, cmd);
    }
    case 'validate': {
      if (rest.length !== 1) throw badInput('aft validate takes one experiment file');
      const { file, problems, memory } = checkExperimentFile(rest[0]);
      const errors = problems.filter((p) => p.severity === 'error').length;
      if (cli.values.json) {
        process.stdout.write(
          JSON.stringify({ file, errors, problems, ...(memory ? { memory: memoryJson(memory) } : {}) }) + '\n',
        );
        return errors ? 2 : 0;
      }
      for (const p of problems) process.stdout.write(formatProblem(file, p) + '\n');
      if (memory) process.stdout.write(`memory: ${memory.verdict.line}\n`);
      process.stdout.write(errors ? `${errors} error(s)\n` : 'ok\n');
      return errors ? 2 : 0;
    }
    case 'runs': {
      const workspace = path.resolve(cli.values.workspace ?? process.cwd());
      for (const s of listStudies(workspace))
        process.stdout.write(
          `${s.state.padEnd(9)} ${s.record.studyId} (study: ${s.record.vary}, ${s.done}/${s.values.length} values)${s.message ? `  (${s.message})` : ''}\n`,
        );
      for (const r of listRuns(workspace)) {
        const p = r.status.progress;
        process.stdout.write(
          `${r.status.state.padEnd(9)} ${r.status.runId}${r.status.state === 'running' && p ? ` ${(p.fraction * 100).toFixed(0)}%` : ''}${r.status.message ? `  (${r.status.message})` : ''}\n`,
        );
      }
      return 0;
    }
    case 'stop': {
      if (rest.length !== 1) throw badInput('aft stop takes one run (a run folder or a run id; see aft runs)');
      const dir = resolveRunDir(rest[0], path.resolve(cli.values.workspace ?? process.cwd()), {
        file: 'aft stop',
        field: 'RUN',
      });
      if (!requestStop(dir, 'aft stop')) throw badInput(`${path.basename(dir)} is not running (aft runs)`);
      process.stdout.write(`asked ${path.basename(dir)} to stop\n`);
      return 0;
    }
    case 'compare': {
      const c = compareRuns(rest);
      process.stdout.write(cli.values.json ? JSON.stringify(c) + '\n' : comparisonTable(c) + '\n');
      // The rest are compared; each run that could not be is said, and the exit code is 2.
      for (const x of c.skipped) process.stderr.write(`error: not compared: ${x.reason}\n`);
      return c.skipped.length ? 2 : 0;
    }
    case 'report':
      return reportCommand(rest, cli.values.out, cli.values.workspace);
    case 'extract': {
      if (rest.length !== 1) throw badInput('aft extract takes one experiment file (see aft --help)');
      return extractCommand(loadExperiment(rest[0], { memory: false }), cli.values);
    }
    case 'export':
      return exportCommand(rest, cli.values);
    case 'predict':
      return predictCommand(rest, cli.values);
    case 'gpu':
      return gpuCommand(rest, cli.values);
    case 'schema':
      process.stdout.write(JSON.stringify(experimentJsonSchema(), null, 2) + '\n');
      return 0;
    default:
      throw badInput(`unknown command '${cmd}' (see aft --help)`);
  }
}

/** Entry point: maps errors to messages and exit codes. */
export function cliEntry(argv: string[] = process.argv.slice(2)): void {
  main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`error: ${describeError(e)}\n`);
      process.exitCode = e instanceof AftError ? ERROR_CODES[e.code].exit : 1;
    },
  );
}
