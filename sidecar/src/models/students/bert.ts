/**
 * The BERT and DistilBERT families: their folder checks (core/node/students/bert.ts) and their
 * model, initialisation, new head and ONNX graph.
 */
import type { StTensor } from '../../../../core/node/io/safetensors';
import {
  bertSpec,
  distilbertSpec,
  textKeys,
  type TextArch,
  type TextEncoderShape,
} from '../../../../core/node/students/bert';
import type { StudentSpec } from '../../../../core/node/students/family';
import { textGraph } from '../../export/bert';
import type { Rng } from '../../util/rng';
import { buildTextEncoder, initTextState, textInitEntry } from '../bert';
import { initState } from '../stateDict';
import { linearEntries } from '../../../../core/node/students/stateEntries';
import type { StudentFamily } from './family';

function textFamily(arch: TextArch, spec: StudentSpec<TextEncoderShape>): StudentFamily<TextEncoderShape> {
  return {
    ...spec,
    init: initTextState,
    withHead(s, state, head, rng: Rng) {
      const numClasses = head['classifier.weight'].shape[0];
      const shape: TextEncoderShape = { ...s, numClasses, prefix: `${arch}.` };
      // A bare encoder's keys move under `<arch>.`, as transformers names them in the classifier.
      const out: Record<string, StTensor> = {};
      for (const [key, t] of Object.entries(state))
        if (key !== 'classifier.weight' && key !== 'classifier.bias')
          out[s.prefix || key.startsWith('pre_classifier.') ? key : `${arch}.${key}`] = t;
      // DistilBERT's pre_classifier belongs to the classification model: a bare one gets a new one.
      const pool = textKeys(shape).pool.key;
      if (!out[`${pool}.weight`])
        Object.assign(out, initState(linearEntries(pool, s.hidden, s.hidden), textInitEntry(s, rng)));
      return { shape, state: { ...out, ...head } };
    },
    build: buildTextEncoder,
    onnx: textGraph,
  };
}

export const bertFamily = textFamily('bert', bertSpec);
export const distilbertFamily = textFamily('distilbert', distilbertSpec);
