/**
 * What some methods need from the data, checked from what the file (and the arrays' headers)
 * tells before anything is loaded. Each check is a condition under which the engine's own code
 * refuses the data once a run has started, and so would fail it:
 * - `ft`: `trainFactorAutoencoder` (methods/factorAutoencoder.ts), run on each source, needs it
 *   at least 2 wide (its factors are ⌊d/2⌋ wide) and holds out round(10%), at least 1, of its training rows for early
 *   stopping while keeping at least 1 to fit;
 * - `btune`: `logme` (methods/logme.ts), run on each source and on the student, needs an example
 *   of every class; fewer examples than classes fail it for every source alike, which fails the
 *   run (the two classes it also needs are asked of every task, by the schema and the loader);
 * and both see every training set of the method: the training split, and the split minus the β
 * holdout while β is tuned. Only `aft` reads `kernel` and `rho` (methods/registry.ts); `prior_steps`
 * needs a learned prior (`priorStepsIgnored`).
 * Those modules import TensorFlow.js, which this one (shared with the language server) must not,
 * so their numbers are repeated here; test/unit/experiment.test.ts runs the engine's own
 * functions at each boundary to keep the two in step.
 */
import type { ResolvedMethod } from './methods';
import type { SemanticProblem } from './problem';

/** What the file tells about the data before it is loaded; undefined where it does not. */
export interface DataFacts {
  /** Examples in the training split (after `train_limit`), before the β holdout. */
  trainSize?: number;
  classes?: number;
  /** Width of each pre-trained source, in file order (undefined: known only once extracted). */
  sourceWidths: (number | undefined)[];
}

export interface MethodUse {
  method: ResolvedMethod;
  /** Index in `methods`. */
  index: number;
  /** Whether β is tuned, so that the method also trains on the training split minus the holdout. */
  tuned: boolean;
  /** The options the file gives (`ResolvedMethod` fills in defaults). */
  given: { kernel?: string; rho?: string; prior_steps?: number };
}

/**
 * Why a method has no learned prior for `prior_steps` to update (undefined when it has one):
 * only AFT's ρ (unless frozen) and aft-no-kernel's map are trained with `prior_lr`
 * (methods/registry.ts `priorParams`).
 */
export function priorStepsIgnored(m: Pick<ResolvedMethod, 'kind' | 'rho'>): string | undefined {
  if (m.kind === 'aft') return m.rho === 'identity' ? 'keeps ρ frozen (`rho: identity`)' : undefined;
  if (m.kind === 'aft-no-kernel') return undefined;
  return `(${m.kind}) learns no prior weights`;
}

/**
 * Training examples left while β is tuned, and those held out to choose it (the engine's split,
 * train/plan.ts `tuneTrainSize`).
 */
export function tuneSplit(n: number, holdout: number): { train: number; holdout: number } {
  const h = Math.max(1, Math.round(n * holdout));
  return { train: n - h, holdout: h };
}

/** The share of its training rows factor transfer's autoencoder holds out for early stopping. */
export const FT_VALIDATION_FRACTION = 0.1;

/** Fewest training rows the autoencoder accepts: one held out (at least) and one to fit. */
export function ftMinRows(fraction = FT_VALIDATION_FRACTION): number {
  let rows = 1;
  while (rows - Math.max(1, Math.round(rows * fraction)) < 1) rows++;
  return rows;
}

/** Rows of the smallest training set a method trains on, and how many that is, said in words. */
function smallestSet(n: number, holdout: number, tuned: boolean): { rows: number; which: string } {
  if (!tuned) return { rows: n, which: `only ${n}` };
  const t = tuneSplit(n, holdout);
  return {
    rows: t.train,
    which: `only ${t.train} while β is tuned (${n} minus the ${t.holdout} held out to choose it)`,
  };
}

/** Fewest training examples for which the smallest set has `need` rows. */
function minTrain(need: number, holdout: number, tuned: boolean): number {
  let n = need;
  while (smallestSet(n, holdout, tuned).rows < need) n++;
  return n;
}

/** "Use at least N training examples", and when tuning is what makes them too few, the other way out. */
function moreExamples(m: MethodUse, need: number, n: number, holdout: number, caveat = ''): string {
  const untuned =
    m.tuned && n >= need ? `, or give \`beta.${m.method.name}\` a single value so that β is not tuned` : '';
  return `Use at least ${minTrain(need, holdout, m.tuned)} training examples${caveat}${untuned}.`;
}

/** Problems of the methods in `uses` with the data the file describes. */
export function methodNeedsProblems(
  uses: MethodUse[],
  data: DataFacts,
  holdout: number,
  sourceNames: string[],
): SemanticProblem[] {
  const problems: SemanticProblem[] = [];
  const n = data.trainSize;
  const widths = data.sourceWidths;
  for (const use of uses) {
    const { method: m, index } = use;
    const at = ['methods', index];
    const label = `\`${m.name}\``;
    if (m.kind === 'ft') {
      const narrow = sourceNames.flatMap((s, i) =>
        widths[i] !== undefined && widths[i] < 2 ? [`\`${s}\` (${widths[i]} wide)`] : [],
      );
      if (narrow.length) {
        problems.push({
          path: at,
          message: `${label} (factor transfer) compresses each source's features to half their width (d → ⌊d/2⌋ factors, one autoencoder per source), so it needs every source at least 2 wide; ${narrow.join(', ')} ${narrow.length === 1 ? 'is' : 'are'} narrower. Leave it out or use a wider one.`,
        });
      }
      const need = ftMinRows();
      if (n !== undefined) {
        const set = smallestSet(n, holdout, use.tuned);
        if (set.rows < need) {
          problems.push({
            path: at,
            message: `${label} (factor transfer) fits its autoencoder on the training examples and holds out ${FT_VALIDATION_FRACTION * 100}% of them (at least 1) for early stopping, so it needs at least ${need}; it would get ${set.which}. ${moreExamples(use, need, n, holdout)}`,
          });
        }
      }
    }
    if (m.kind === 'btune' && data.classes !== undefined && n !== undefined) {
      const k = data.classes;
      const set = smallestSet(n, holdout, use.tuned);
      if (set.rows < k) {
        const caveat = ' (and enough that no class is missing from them)';
        problems.push({
          path: at,
          message: `${label} (B-Tuning) computes LogME on the training examples, which needs an example of each of the ${k} classes, so at least ${k} examples; it would get ${set.which}. ${moreExamples(use, k, n, holdout, caveat)}`,
        });
      }
    }
    if (m.kind !== 'aft') {
      for (const key of ['kernel', 'rho'] as const) {
        if (use.given[key] !== undefined)
          problems.push({
            path: [...at, key],
            message: `only \`aft\` reads \`${key}\`; ${label} (${m.kind}) ignores it`,
            severity: 'warning',
          });
      }
    }
    if (use.given.prior_steps !== undefined && use.given.prior_steps > 1) {
      const why = priorStepsIgnored(m);
      if (why)
        problems.push({
          path: [...at, 'prior_steps'],
          message: `${label} ${why}, so \`prior_steps\` has nothing to update between the student's updates; remove it, or use \`aft\` with a learned \`rho\` or \`aft-no-kernel\``,
        });
    }
  }
  return problems;
}
