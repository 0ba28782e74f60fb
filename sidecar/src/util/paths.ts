import * as os from 'node:os';
import * as path from 'node:path';

/** The user's cache folder for built models: $AFT_CACHE_DIR, else $XDG_CACHE_HOME/aft-studio. */
export function userCacheDir(): string {
  if (process.env.AFT_CACHE_DIR) return path.resolve(process.env.AFT_CACHE_DIR);
  const base =
    process.env.XDG_CACHE_HOME ||
    (process.platform === 'darwin' ? path.join(os.homedir(), 'Library', 'Caches') : path.join(os.homedir(), '.cache'));
  return path.join(base, 'aft-studio');
}
