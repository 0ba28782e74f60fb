/** Patience-based early stopping on a validation loss (lower is better). */
export class EarlyStopping {
  best = Infinity;
  bestEpoch = -1;
  private wait = 0;

  /**
   * @param patience consecutive epochs without improvement after which to stop (0 behaves
   *   like 1: stop at the first epoch that does not improve)
   * @param minDelta relative improvement that counts, so that float noise does not reset the count
   */
  constructor(
    readonly patience: number,
    readonly minDelta = 1e-4,
  ) {}

  /** Records one epoch; true when it is the best so far (the weights to keep). */
  update(epoch: number, loss: number): boolean {
    // NaN compares false, so a diverged epoch never counts as an improvement.
    if (loss < this.best * (1 - this.minDelta) || (this.best === Infinity && Number.isFinite(loss))) {
      this.best = loss;
      this.bestEpoch = epoch;
      this.wait = 0;
      return true;
    }
    this.wait++;
    return false;
  }

  get shouldStop(): boolean {
    return this.wait >= Math.max(1, this.patience);
  }
}
