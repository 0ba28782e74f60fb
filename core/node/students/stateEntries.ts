/** State-dict entries of PyTorch's common modules, named and shaped as PyTorch saves them. */
import type { StateEntry } from './family';

/** A trained parameter of a state dict. */
export const param = (key: string, shape: number[]): StateEntry => ({ key, shape, kind: 'param' });

/** `<prefix>.weight` [out, in] and `<prefix>.bias` [out]: an nn.Linear. */
export const linearEntries = (prefix: string, out: number, inp: number): StateEntry[] => [
  param(`${prefix}.weight`, [out, inp]),
  param(`${prefix}.bias`, [out]),
];

/** `<prefix>.weight` and `<prefix>.bias`, both [d]: an nn.LayerNorm. */
export const normEntries = (prefix: string, d: number): StateEntry[] => [
  param(`${prefix}.weight`, [d]),
  param(`${prefix}.bias`, [d]),
];

/** `<prefix>.fc1` d → hidden and `<prefix>.fc2` hidden → d: timm's Mlp. */
export const mlpEntries = (prefix: string, d: number, hidden: number): StateEntry[] => [
  ...linearEntries(`${prefix}.fc1`, hidden, d),
  ...linearEntries(`${prefix}.fc2`, d, hidden),
];
