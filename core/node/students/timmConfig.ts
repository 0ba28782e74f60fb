/**
 * Checks of a timm config.json against what the weights say, shared by the families: each
 * names the field, the value found and what the weights imply.
 */
import { badInput } from '../../common/util/errors';
import type { HubConfig } from './family';

const positiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/** `num_features` (φ's width), when given, against the weights'. `what` names the model ("a resnet18 with conv1 of width 8"). */
export function checkNumFeatures(config: HubConfig, features: number, what: string, file: string): void {
  if (positiveInt(config.num_features) && config.num_features !== features)
    throw badInput(`config.json says num_features ${config.num_features}, but ${what} has ${features}`, {
      file,
      field: 'num_features',
    });
}

/** `pretrained_cfg.input_size`'s channels, when given, against the stem's. `takes` says where the weights say it. */
export function checkInputChannels(config: HubConfig, channels: number, takes: string, file: string): void {
  const inputSize = config.pretrained_cfg?.input_size;
  if (Array.isArray(inputSize) && inputSize[0] !== channels)
    throw badInput(`pretrained_cfg.input_size has ${JSON.stringify(inputSize[0])} channels, but ${takes}`, {
      file,
      field: 'pretrained_cfg.input_size',
    });
}

/**
 * `model_args` (what timm passes to the model's constructor) as an object of numbers, or {}:
 * the families read their dimensions from it where the weights cannot say (a ViT's heads).
 */
export function modelArgs(config: HubConfig, file: string): Record<string, unknown> {
  const a = config.model_args;
  if (a === undefined) return {};
  if (typeof a !== 'object' || a === null || Array.isArray(a))
    throw badInput(`expected an object, got ${JSON.stringify(a)}`, { file, field: 'model_args' });
  return a as Record<string, unknown>;
}

/** A model_args field that must be a positive integer when present. */
export function intArg(args: Record<string, unknown>, key: string, file: string): number | undefined {
  const v = args[key];
  if (v === undefined) return undefined;
  if (!positiveInt(v))
    throw badInput(`expected a positive integer, got ${JSON.stringify(v)}`, { file, field: `model_args.${key}` });
  return v;
}

/** A model_args field that must be a number when present (dropout rates, ratios). */
export function numArg(args: Record<string, unknown>, key: string, file: string): number | undefined {
  const v = args[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw badInput(`expected a number, got ${JSON.stringify(v)}`, { file, field: `model_args.${key}` });
  return v;
}

/** A model_args value against the one the weights give. */
export function agrees(name: string, said: number | undefined, fromWeights: number, how: string, file: string): void {
  if (said !== undefined && said !== fromWeights)
    throw badInput(`config.json says ${name} ${said}, but ${how} gives ${fromWeights}`, {
      file,
      field: `model_args.${name}`,
    });
}
