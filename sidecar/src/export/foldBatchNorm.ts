/**
 * A convolution with the BatchNorm after it folded in, for inference (its running statistics are
 * constants): W' = W·γ/√(σ²+ε) per output channel, b' = β − μ·γ/√(σ²+ε), computed in float64.
 * PyTorch's OIHW layout is ONNX's, so the kernel keeps its shape (a depthwise [C, 1, k, k] too).
 */
import type { StTensor } from '../../../core/node/io/safetensors';
import { BN_EPS } from '../models/batchNorm';
import { stateTensor } from './stateTensor';

export function foldBatchNorm(
  state: Record<string, StTensor>,
  convKey: string,
  bnKey: string,
  wShape: number[],
): { weight: Float32Array; bias: Float32Array } {
  const cout = wShape[0];
  const w = stateTensor(state, `${convKey}.weight`, wShape);
  const [gamma, beta, mean, variance] = ['weight', 'bias', 'running_mean', 'running_var'].map((k) =>
    stateTensor(state, `${bnKey}.${k}`, [cout]),
  );
  const per = w.length / cout;
  const weight = new Float32Array(w.length);
  const bias = new Float32Array(cout);
  for (let o = 0; o < cout; o++) {
    const scale = gamma[o] / Math.sqrt(variance[o] + BN_EPS);
    for (let i = 0; i < per; i++) weight[o * per + i] = w[o * per + i] * scale;
    bias[o] = beta[o] - mean[o] * scale;
  }
  return { weight, bias };
}
