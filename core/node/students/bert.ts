/**
 * The BERT and DistilBERT families as the folder checks see them: folders as transformers saves
 * them (config.json with `model_type` `bert` or `distilbert`, model.safetensors or shards, the
 * folder's own tokenizer.json). A *ForSequenceClassification has its encoder's keys under `bert.` /
 * `distilbert.` and a `classifier`; a bare BertModel / DistilBertModel has them at the top and
 * no head (one is created for the task). The weights give the widths, depth, vocabulary and
 * positions; config.json gives the heads, ε, pad id and dropout, and must agree with the weights
 * where both say something. The model itself is sidecar/src/models/bert.ts.
 */
import { badInput } from '../../common/util/errors';
import { textActivations } from './activations';
import type { HubConfig, StateEntry, StudentSpec } from './family';
import { linearEntries, normEntries, param } from './stateEntries';

export type TextArch = 'bert' | 'distilbert';

export interface TextEncoderShape {
  arch: TextArch;
  /** Classes of `classifier`; 0 for a bare encoder (BertModel, DistilBertModel) without one. */
  numClasses: number;
  /** `bert.` / `distilbert.` before the encoder's keys in a *ForSequenceClassification, '' in a bare model. */
  prefix: string;
  vocab: number;
  maxPositions: number;
  /** BERT's token-type vocabulary (type 0 is used); 0 for DistilBERT. */
  typeVocab: number;
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
  eps: number;
  padId: number;
  dropout: { hidden: number; attn: number; classifier: number };
  /** transformers' initializer_range: the std of a new model's weights. */
  initStd: number;
}

/** One layer's keys, by role. */
interface LayerKeys {
  q: string;
  k: string;
  v: string;
  o: string;
  attnNorm: string;
  ffn1: string;
  ffn2: string;
  outNorm: string;
}

/** The keys of each part of the encoder, by role, in transformers' names. */
export function textKeys(s: Pick<TextEncoderShape, 'arch' | 'prefix'>) {
  const p = s.prefix;
  const bert = s.arch === 'bert';
  const e = `${p}embeddings`;
  return {
    word: `${e}.word_embeddings.weight`,
    position: `${e}.position_embeddings.weight`,
    tokenType: bert ? `${e}.token_type_embeddings.weight` : undefined,
    embNorm: `${e}.LayerNorm`,
    layer(i: number): LayerKeys {
      if (bert) {
        const l = `${p}encoder.layer.${i}`;
        return {
          q: `${l}.attention.self.query`,
          k: `${l}.attention.self.key`,
          v: `${l}.attention.self.value`,
          o: `${l}.attention.output.dense`,
          attnNorm: `${l}.attention.output.LayerNorm`,
          ffn1: `${l}.intermediate.dense`,
          ffn2: `${l}.output.dense`,
          outNorm: `${l}.output.LayerNorm`,
        };
      }
      const l = `${p}transformer.layer.${i}`;
      return {
        q: `${l}.attention.q_lin`,
        k: `${l}.attention.k_lin`,
        v: `${l}.attention.v_lin`,
        o: `${l}.attention.out_lin`,
        attnNorm: `${l}.sa_layer_norm`,
        ffn1: `${l}.ffn.lin1`,
        ffn2: `${l}.ffn.lin2`,
        outNorm: `${l}.output_layer_norm`,
      };
    },
    /** BERT's pooler (tanh) is part of the encoder; DistilBERT's pre_classifier (ReLU) of the classification model. */
    pool: bert ? { key: `${p}pooler.dense`, act: 'tanh' as const } : { key: 'pre_classifier', act: 'relu' as const },
    classifier: 'classifier',
  };
}

/** Whether the state has DistilBERT's pre_classifier or BERT's pooler: BERT's is always there. */
const hasPool = (s: TextEncoderShape): boolean => s.arch === 'bert' || s.numClasses > 0;

/** Every state-dict entry, in transformers' order, with PyTorch's shapes. */
export function textStateShapes(s: TextEncoderShape): StateEntry[] {
  const k = textKeys(s);
  const d = s.hidden;
  const out: StateEntry[] = [param(k.word, [s.vocab, d]), param(k.position, [s.maxPositions, d])];
  if (k.tokenType) out.push(param(k.tokenType, [s.typeVocab, d]));
  out.push(...normEntries(k.embNorm, d));
  for (let i = 0; i < s.layers; i++) {
    const l = k.layer(i);
    out.push(
      ...linearEntries(l.q, d, d),
      ...linearEntries(l.k, d, d),
      ...linearEntries(l.v, d, d),
      ...linearEntries(l.o, d, d),
      ...normEntries(l.attnNorm, d),
      ...linearEntries(l.ffn1, s.intermediate, d),
      ...linearEntries(l.ffn2, d, s.intermediate),
      ...normEntries(l.outNorm, d),
    );
  }
  if (hasPool(s)) out.push(...linearEntries(k.pool.key, d, d));
  if (s.numClasses > 0) out.push(...linearEntries(k.classifier, s.numClasses, d));
  return out;
}

/** config.json's names of each dimension, rate and setting, and transformers' defaults. */
const FIELDS = {
  bert: {
    hidden: 'hidden_size',
    layers: 'num_hidden_layers',
    heads: 'num_attention_heads',
    intermediate: 'intermediate_size',
    act: 'hidden_act',
    defaults: { heads: 12, hiddenDrop: 0.1, attnDrop: 0.1 },
  },
  distilbert: {
    hidden: 'dim',
    layers: 'n_layers',
    heads: 'n_heads',
    intermediate: 'hidden_dim',
    act: 'activation',
    defaults: { heads: 12, hiddenDrop: 0.1, attnDrop: 0.1 },
  },
} as const;

const CLASSIFIERS = { bert: 'BertForSequenceClassification', distilbert: 'DistilBertForSequenceClassification' };
const ENCODERS = { bert: 'BertModel', distilbert: 'DistilBertModel' };

const positiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

function num(
  config: HubConfig,
  key: string,
  fallback: number,
  file: string,
  test: (v: number) => boolean,
  want: string,
): number {
  const v = config[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || !test(v))
    throw badInput(`expected ${want}, got ${JSON.stringify(v)}`, { file, field: key });
  return v;
}

const rate = (config: HubConfig, key: string, fallback: number, file: string): number =>
  num(config, key, fallback, file, (v) => v >= 0 && v < 1, 'a dropout rate in [0, 1)');

/** A config dimension against the weights' (when config.json gives it). */
function agree(config: HubConfig, key: string, fromWeights: number, how: string, file: string): void {
  const v = config[key];
  if (v === undefined) return;
  if (!positiveInt(v)) throw badInput(`expected a positive integer, got ${JSON.stringify(v)}`, { file, field: key });
  if (v !== fromWeights)
    throw badInput(`config.json says ${key} ${v}, but ${how} gives ${fromWeights}`, { file, field: key });
}

/** The classes that `id2label` or `num_labels` say, if either does. */
function labelsSaid(config: HubConfig, file: string): number | undefined {
  const id2label = config.id2label;
  if (id2label !== undefined && id2label !== null) {
    if (typeof id2label !== 'object' || Array.isArray(id2label))
      throw badInput(`expected an object of label names by index, got ${JSON.stringify(id2label)}`, {
        file,
        field: 'id2label',
      });
    return Object.keys(id2label).length;
  }
  const n = config.num_labels;
  if (n === undefined) return undefined;
  if (!positiveInt(n))
    throw badInput(`expected a positive integer, got ${JSON.stringify(n)}`, { file, field: 'num_labels' });
  return n;
}

function textSpec(arch: TextArch): StudentSpec<TextEncoderShape> {
  const f = FIELDS[arch];
  return {
    name: arch,
    configKey: 'model_type',
    archs: [arch],
    head: { weight: 'classifier.weight', bias: 'classifier.bias' },
    numClassesOf(config, tensors, files) {
      const head = tensors['classifier.weight'];
      const said = labelsSaid(config, files.config);
      if (!head) return 0;
      if (said !== undefined && said !== head.shape[0])
        throw badInput(
          `config.json says ${said} labels (id2label/num_labels), but classifier.weight has ${head.shape[0]} rows (shape [${head.shape.join(', ')}])`,
          { file: files.config, field: 'id2label' },
        );
      return head.shape[0];
    },
    ignored: (key) =>
      // Buffers older transformers saved (derived, not state), and the pre-training heads
      // (BertForPreTraining's `cls.`, DistilBertForMaskedLM's `vocab_*`), which transformers
      // itself drops when it loads an encoder for classification.
      /(^|\.)embeddings\.(position_ids|token_type_ids)$/.test(key) ||
      key.startsWith('cls.') ||
      /^vocab_(transform|layer_norm|projector)\./.test(key),
    shapeOf(_arch, config, tensors, numClasses, files) {
      const prefix = tensors[`${arch}.embeddings.word_embeddings.weight`] ? `${arch}.` : '';
      const k = textKeys({ arch, prefix });
      const word = tensors[k.word];
      const pos = tensors[k.position];
      if (!word || word.shape.length !== 2 || !pos || pos.shape.length !== 2)
        throw badInput(
          `no tensors ${arch}.embeddings.{word,position}_embeddings.weight (nor embeddings.… of a bare ${ENCODERS[arch]}) of rank 2: this is not a ${arch} state dict`,
          { file: files.weights, field: 'downstream.folder' },
        );
      const [vocab, hidden] = word.shape as [number, number];
      const maxPositions = pos.shape[0];
      const layerRe = new RegExp(
        `^${prefix.replace('.', '\\.')}${arch === 'bert' ? 'encoder' : 'transformer'}\\.layer\\.(\\d+)\\.`,
      );
      let layers = 0;
      for (const key of Object.keys(tensors)) {
        const m = layerRe.exec(key);
        if (m) layers = Math.max(layers, Number(m[1]) + 1);
      }
      const ffn1 = tensors[`${k.layer(0).ffn1}.weight`];
      const intermediate = ffn1?.shape[0] ?? 4 * hidden;
      const typeVocab = k.tokenType ? (tensors[k.tokenType]?.shape[0] ?? 2) : 0;
      const file = files.config;
      const wordSaid = `${k.word} [${word.shape.join(', ')}]`;
      agree(config, f.hidden, hidden, wordSaid, file);
      agree(config, 'vocab_size', vocab, wordSaid, file);
      agree(config, 'max_position_embeddings', maxPositions, `${k.position} [${pos.shape.join(', ')}]`, file);
      agree(config, f.layers, layers, `the weights' ${layers} layers`, file);
      if (ffn1)
        agree(config, f.intermediate, intermediate, `${k.layer(0).ffn1}.weight [${ffn1.shape.join(', ')}]`, file);
      if (k.tokenType && tensors[k.tokenType])
        agree(config, 'type_vocab_size', typeVocab, `${k.tokenType} [${tensors[k.tokenType].shape.join(', ')}]`, file);
      const heads = num(
        config,
        f.heads,
        f.defaults.heads,
        file,
        (v) => Number.isInteger(v) && v > 0,
        'a positive integer',
      );
      if (hidden % heads)
        throw badInput(
          `${heads} heads do not divide the hidden size ${hidden}${config[f.heads] === undefined ? ` (${arch}'s default is ${heads}): say ${f.heads}` : ''}`,
          { file, field: f.heads },
        );
      const act = config[f.act] ?? 'gelu';
      if (act !== 'gelu')
        throw badInput(`only the exact GELU (\`gelu\`) is supported, got ${JSON.stringify(act)}`, {
          file,
          field: f.act,
        });
      if (arch === 'bert') {
        const pet = config.position_embedding_type ?? 'absolute';
        if (pet !== 'absolute')
          throw badInput(`only absolute position embeddings are supported, got ${JSON.stringify(pet)}`, {
            file,
            field: 'position_embedding_type',
          });
        if (config.is_decoder === true)
          throw badInput('a decoder (causal attention) is not a text classifier here; expected is_decoder false', {
            file,
            field: 'is_decoder',
          });
      } else if (config.sinusoidal_pos_embds === true)
        throw badInput('sinusoidal position embeddings are not supported (they are frozen in transformers)', {
          file,
          field: 'sinusoidal_pos_embds',
        });
      const padId = num(
        config,
        'pad_token_id',
        0,
        file,
        (v) => Number.isInteger(v) && v >= 0 && v < vocab,
        `an id below the vocabulary's ${vocab}`,
      );
      const eps =
        arch === 'bert' ? num(config, 'layer_norm_eps', 1e-12, file, (v) => v > 0, 'a positive number') : 1e-12;
      const hiddenDrop = rate(config, arch === 'bert' ? 'hidden_dropout_prob' : 'dropout', f.defaults.hiddenDrop, file);
      const attnDrop = rate(
        config,
        arch === 'bert' ? 'attention_probs_dropout_prob' : 'attention_dropout',
        f.defaults.attnDrop,
        file,
      );
      // BERT: classifier_dropout, else hidden_dropout_prob; DistilBERT: seq_classif_dropout (0.2).
      const classifierDrop =
        arch === 'bert'
          ? rate(config, 'classifier_dropout', hiddenDrop, file)
          : rate(config, 'seq_classif_dropout', 0.2, file);
      const initStd = num(config, 'initializer_range', 0.02, file, (v) => v >= 0, 'a non-negative number');
      if (numClasses > 0 && !prefix)
        throw badInput(
          `classifier.weight sits beside a bare ${ENCODERS[arch]}'s keys (embeddings.…); transformers' ${CLASSIFIERS[arch]} has them under \`${arch}.\``,
          { file: files.weights, field: 'downstream.folder' },
        );
      return {
        arch,
        numClasses,
        prefix,
        vocab,
        maxPositions,
        typeVocab,
        hidden,
        layers,
        heads,
        intermediate,
        eps,
        padId,
        dropout: { hidden: hiddenDrop, attn: attnDrop, classifier: classifierDrop },
        initStd,
      };
    },
    checkConfig() {
      // Every field was checked against the weights while the shape was read.
    },
    stateShapes: textStateShapes,
    features: (s) => s.hidden,
    input: (s) => ({
      kind: 'tokens',
      vocab: s.vocab,
      maxLength: s.maxPositions,
      padId: s.padId,
      tokenizer: 'tokenizer.json',
    }),
    describe: (s) =>
      `${s.numClasses ? CLASSIFIERS[arch] : ENCODERS[arch]} (hidden ${s.hidden}, ${s.layers} layers, ${s.heads} heads, vocabulary ${s.vocab}, up to ${s.maxPositions} tokens)`,
    savedConfig(config, s, headReinitialised) {
      const out: HubConfig = {
        ...structuredClone(config),
        architectures: [s.numClasses ? CLASSIFIERS[arch] : ENCODERS[arch]],
      };
      if (s.numClasses && (headReinitialised || labelsSaid(config, '') !== s.numClasses)) {
        out.id2label = Object.fromEntries(Array.from({ length: s.numClasses }, (_, i) => [String(i), `LABEL_${i}`]));
        out.label2id = Object.fromEntries(Array.from({ length: s.numClasses }, (_, i) => [`LABEL_${i}`, i]));
      }
      if (s.numClasses) out.num_labels = s.numClasses;
      return out;
    },
    requiredFiles: [
      {
        name: 'tokenizer.json',
        why: `a ${arch} student tokenises the texts with its own tokenizer (the teachers keep theirs)`,
        hint: "save the model's fast tokenizer into this folder: python -c \"from transformers import AutoTokenizer; AutoTokenizer.from_pretrained('NAME').save_pretrained('FOLDER')\"",
      },
    ],
    companions: ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt'],
    activations: (s, [tokens]) => textActivations(s, tokens),
  };
}

export const bertSpec = textSpec('bert');
export const distilbertSpec = textSpec('distilbert');
