/**
 * A two-stage pipeline in order: items are prepared one at a time (on this thread and its pool)
 * and run elsewhere (a model's worker thread, a GPU) with up to `depth` runs handed over at once,
 * so that the runner finds its next item already queued when it finishes one instead of waiting
 * for this thread to answer. Results come back in the items' order.
 */
export interface PipelineStages<I, P, R> {
  prepare(item: I): Promise<P>;
  /** Starts a run; its promise settles when the run is done. */
  run(prepared: P, item: I): Promise<R>;
  /** Runs handed over and not yet answered, at most (default 2: one running, one queued). */
  depth?: number;
}

/**
 * Yields `{item, result}` in order. The next item is prepared as soon as a run is handed over,
 * so preparing overlaps running. A consumer that stops early (break, throw) leaves the runs in
 * flight to finish on their own; their failures are then not reported.
 */
export async function* pipelined<I, P, R>(
  items: readonly I[],
  stages: PipelineStages<I, P, R>,
): AsyncGenerator<{ item: I; result: R }> {
  const depth = Math.max(1, stages.depth ?? 2);
  const inFlight: { item: I; result: Promise<R> }[] = [];
  let next = 0;
  let preparing: Promise<P> | undefined = items.length ? stages.prepare(items[0]) : undefined;
  while (inFlight.length || next < items.length) {
    while (next < items.length && inFlight.length < depth) {
      const item = items[next];
      const prepared = await preparing!;
      const result = stages.run(prepared, item);
      // Reported when awaited below; until then (or if the consumer stops) not unhandled.
      result.catch(() => {});
      inFlight.push({ item, result });
      next++;
      preparing = next < items.length ? stages.prepare(items[next]) : undefined;
      preparing?.catch(() => {});
    }
    const head = inFlight.shift()!;
    yield { item: head.item, result: await head.result };
  }
}
