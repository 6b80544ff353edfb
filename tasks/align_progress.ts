/**
 * A progress bar on stderr for long runs: done/total, faces/s and ETA. Redrawn in place on a
 * terminal; on a pipe or log file, one line every 30 s.
 */
export class Progress {
  private readonly total?: number;
  private readonly quiet: boolean;
  private readonly tty: boolean;
  private readonly t0 = performance.now();
  private last = 0;
  private n = 0;
  private faces = 0;

  constructor(total: number | undefined, quiet = false) {
    this.total = total;
    this.quiet = quiet;
    this.tty = Deno.stderr.isTerminal();
  }

  tick(face: boolean): void {
    this.n++;
    if (face) this.faces++;
    const now = performance.now();
    if (now - this.last > (this.tty ? 250 : 30000)) {
      this.last = now;
      this.draw(now);
    }
  }

  done(): void {
    if (this.n > 0) this.draw(performance.now());
    if (!this.quiet && this.tty && this.n > 0) {
      Deno.stderr.writeSync(new TextEncoder().encode("\n"));
    }
  }

  private draw(now: number): void {
    if (this.quiet) return;
    const s = (now - this.t0) / 1000;
    const rate = this.n / Math.max(s, 1e-9);
    let text = `${this.n}`;
    if (this.total) {
      const f = Math.min(1, this.n / this.total);
      const bar = "#".repeat(Math.round(f * 30)).padEnd(30, ".");
      const eta = (this.total - this.n) / Math.max(rate, 1e-9);
      text = `[${bar}] ${this.n}/${this.total} ${(f * 100).toFixed(1)}% ETA ${clock(eta)}`;
    }
    text += ` ${(this.faces / Math.max(s, 1e-9)).toFixed(1)} faces/s, ${
      this.n - this.faces
    } without a face, ${clock(s)} elapsed`;
    const line = this.tty ? `\r${text}\x1b[K` : `${text}\n`;
    Deno.stderr.writeSync(new TextEncoder().encode(line));
  }
}

function clock(seconds: number): string {
  const t = Math.round(seconds);
  const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s = t % 60;
  return `${h > 0 ? `${h}:` : ""}${String(m).padStart(h > 0 ? 2 : 1, "0")}:${
    String(s).padStart(2, "0")
  }`;
}
