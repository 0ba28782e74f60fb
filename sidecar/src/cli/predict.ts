/** `aft predict MODEL --input X.npy|DIR|T.csv [--out LOGITS.npy] [--features F.npy] [--attention-mask M.npy] [--text-column C]`: see predict/predict.ts. */
import { badInput } from '../../../core/common/util/errors';
import { initBackend, type BackendChoice } from '../runtime/tf';
import { predict } from '../predict/predict';

export async function predictCommand(
  args: string[],
  v: {
    input?: string;
    out?: string;
    features?: string;
    'attention-mask'?: string;
    'text-column'?: string;
    method?: string;
    seed?: string;
    workspace?: string;
    backend?: string;
    json?: boolean;
  },
): Promise<number> {
  if (args.length !== 1)
    throw badInput('aft predict takes one model: a student folder, or a run (folder or id; see aft runs)');
  if (!v.input) throw badInput('aft predict needs --input X.npy (or a folder of images, or a .csv/.jsonl of texts)');
  const seed = v.seed !== undefined ? Number(v.seed) : undefined;
  if (seed !== undefined && (!Number.isInteger(seed) || seed < 0))
    throw badInput(`--seed expects a non-negative integer, got '${v.seed}'`);
  const log = (m: string): void => void process.stderr.write(`${m}\n`);
  await initBackend((v.backend ?? 'auto') as BackendChoice, log);
  const r = await predict({
    model: args[0],
    workspaceDir: v.workspace ?? process.cwd(),
    input: v.input,
    log,
    ...(v.out ? { out: v.out } : {}),
    ...(v.features ? { features: v.features } : {}),
    ...(v['attention-mask'] ? { attentionMask: v['attention-mask'] } : {}),
    ...(v['text-column'] ? { textColumn: v['text-column'] } : {}),
    ...(v.method ? { method: v.method } : {}),
    ...(seed !== undefined ? { seed } : {}),
  });
  if (v.json) process.stdout.write(JSON.stringify(r) + '\n');
  else
    process.stdout.write(
      [
        `${r.what}: ${r.examples} example${r.examples === 1 ? '' : 's'} in ${r.seconds.toFixed(2)} s`,
        ...r.written.map((w) => `  wrote ${w.file} [${w.shape.join(', ')}] float32`),
        '',
      ].join('\n'),
    );
  return 0;
}
