/** Terminal output for `aft`: a progress bar with ETA on a TTY, plain lines otherwise. */
import type { ProgressEvent, RunEvent } from '../../../core/common/protocol/events';

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export class TerminalReporter {
  private barShown = false;
  private lastPlain = 0;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly verbose = false,
  ) {}

  private get tty(): boolean {
    return Boolean(this.out.isTTY);
  }

  private clearBar(): void {
    if (this.barShown) {
      this.out.write('\r\x1b[2K');
      this.barShown = false;
    }
  }

  line(text: string): void {
    this.clearBar();
    this.out.write(text + '\n');
  }

  private bar(p: ProgressEvent): void {
    // A study's bar is the whole study's: its fraction and ETA, and which value is running.
    const fraction = p.study ? p.study.fraction : p.jobs ? p.fraction : p.step / Math.max(1, p.steps);
    const width = 24;
    const filled = Math.round(fraction * width);
    const etaSeconds = p.study ? p.study.etaSeconds : p.etaSeconds;
    const eta = etaSeconds !== null ? ` ETA ${formatDuration(etaSeconds)}` : '';
    const jobs = `${p.study ? ` value ${p.study.value + 1}/${p.study.values} (${p.study.label})` : ''}${p.jobs ? ` job ${p.job}/${p.jobs}` : ''}`;
    const rate = p.itemsPerSecond !== undefined ? ` ${p.itemsPerSecond.toFixed(1)} items/s` : '';
    const text = `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%${jobs} ${p.label} ${p.step}/${p.steps}${rate}${eta}`;
    const cols = this.out.columns || 100;
    this.out.write('\r\x1b[2K' + text.slice(0, cols - 1));
    this.barShown = true;
  }

  handle(e: RunEvent): void {
    switch (e.type) {
      case 'progress':
        if (this.tty) this.bar(e);
        else if (Date.now() - this.lastPlain > 10_000 || e.step === e.steps) {
          this.lastPlain = Date.now();
          const eta = e.etaSeconds !== null ? `, ETA ${formatDuration(e.etaSeconds)}` : '';
          const rate = e.itemsPerSecond !== undefined ? ` (${e.itemsPerSecond.toFixed(1)} items/s${eta})` : '';
          const study = e.study
            ? `; study ${(e.study.fraction * 100).toFixed(0)}%${e.study.etaSeconds !== null ? `, ETA ${formatDuration(e.study.etaSeconds)}` : ''}`
            : '';
          this.line(
            `  ${e.label}: ${e.itemsPerSecond !== undefined ? '' : 'step '}${e.step}/${e.steps}${e.jobs ? ` (run ${(e.fraction * 100).toFixed(0)}%${eta}${study})` : rate}`,
          );
        }
        break;
      case 'log':
        if (e.level !== 'debug' || this.verbose) this.line(`${e.level === 'info' ? '' : `${e.level}: `}${e.message}`);
        break;
      case 'status':
        if (e.removed) this.line(`run ${e.state} on bad input; its folder was removed: ${e.runDir}`);
        else if (e.state !== 'running') this.line(`run ${e.state}: ${e.runDir}`);
        else this.line(`run folder: ${e.runDir}`);
        break;
      default:
        break;
    }
  }

  done(): void {
    this.clearBar();
  }
}
