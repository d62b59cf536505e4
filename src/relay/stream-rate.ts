// The rate of a stream of rows, decayed exponentially: recent seconds count, older ones fade. The
// relay sizes its spacing of small claims from it, so a heavy stream is taken in bigger batches.
export class StreamRate {
  private weighted = 0; // rows, each weighted by exp(-age / tau)
  private at = 0;

  constructor(
    private readonly tauMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  add(rows: number): void {
    this.decay();
    this.weighted += rows;
  }

  perSecond(): number {
    this.decay();
    return (this.weighted * 1000) / this.tauMs;
  }

  private decay(): void {
    const t = this.now();
    if (t > this.at) this.weighted *= Math.exp(-(t - this.at) / this.tauMs);
    this.at = t;
  }
}
