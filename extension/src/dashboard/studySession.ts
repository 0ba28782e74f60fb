/**
 * The host side of a study view, free of `vscode`: it reads the study folder (study.json and
 * each value's run: core/node/runs/studies.ts) once a second while the study is not complete,
 * and posts the study whenever what it shows changed (at most ~10 messages a second).
 */
import type { HostMessage } from '../../../core/common/protocol/webview';
import type { StudyInfo } from '../../../core/common/runs/study';
import { readStudy } from '../../../core/node/runs/studies';
import { silentLogger, type Logger } from '../util/log';
import { realTimers, Throttle, type Timers } from './throttle';

export interface StudySessionOptions {
  pollMs?: number;
  minIntervalMs?: number;
  timers?: Timers;
  log?: Logger;
}

export class StudySession {
  private study: StudyInfo | undefined;
  private shown = '';
  private ready = false;
  private disposed = false;
  private pollTimer: unknown;
  private readonly timers: Timers;
  private readonly throttle: Throttle;
  private readonly log: Logger;

  constructor(
    readonly studyDir: string,
    private readonly post: (m: HostMessage) => void,
    opts: StudySessionOptions = {},
  ) {
    this.timers = opts.timers ?? realTimers;
    this.log = opts.log ?? silentLogger;
    this.throttle = new Throttle(() => this.send(), opts.minIntervalMs ?? 100, this.timers);
    this.poll(opts.pollMs ?? 1000);
  }

  onReady(): void {
    this.ready = true;
    this.shown = '';
    this.send();
  }

  onHidden(): void {
    this.ready = false;
  }

  private send(): void {
    if (!this.ready || this.disposed) return;
    if (!this.study) return;
    const text = JSON.stringify(this.study);
    if (text === this.shown) return;
    this.shown = text;
    this.post({ type: 'study', study: this.study });
  }

  private poll(pollMs: number): void {
    if (this.disposed) return;
    try {
      this.study = readStudy(this.studyDir);
      this.throttle.schedule();
    } catch (e) {
      this.log.warn(`study ${this.studyDir}: ${(e as Error).message}`);
      if (this.ready) this.post({ type: 'error', message: (e as Error).message });
    }
    if (this.study?.state !== 'completed') this.pollTimer = this.timers.setTimeout(() => this.poll(pollMs), pollMs);
  }

  dispose(): void {
    this.disposed = true;
    this.throttle.dispose();
    if (this.pollTimer !== undefined) this.timers.clearTimeout(this.pollTimer);
  }
}
