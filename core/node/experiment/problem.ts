/** A problem found in an experiment file, located by its path in the document (the editor maps it to a range). */
export interface SemanticProblem {
  path: (string | number)[];
  key?: string;
  message: string;
  severity?: 'error' | 'warning';
  /** A replacement for the value at `path` that an editor can offer as a quick fix. */
  suggestion?: string;
}
