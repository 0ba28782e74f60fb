/** A convolution's geometry as PyTorch's Conv2d has it, shared by the students' shapes and the engine's layers. */
export interface ConvGeometry {
  /** Kernel size k (square). */
  kernel: number;
  stride: number;
  /** Zero padding on every side (PyTorch's `padding`). */
  pad: number;
}

/** Output size of a convolution or pooling as PyTorch computes it (floor). */
export function convOut(size: number, g: ConvGeometry): number {
  return Math.floor((size + 2 * g.pad - g.kernel) / g.stride) + 1;
}
