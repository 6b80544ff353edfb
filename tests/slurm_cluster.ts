/**
 * Test helper (not a test file): a one-node Slurm cluster in a temp folder, as root and without
 * systemd: a fresh munge key, `munged` (as the munge user), `slurmctld` and `slurmd` with a
 * generated `slurm.conf` (SlurmctldHost = this short hostname, state and spool under the folder,
 * proctrack/linuxproc, task/none, free ports). `stop()` ends every daemon it started, by pid.
 */
import { join } from "node:path";

const DAEMONS = ["munged", "slurmctld", "slurmd", "sbatch", "scancel", "squeue", "setpriv"];

/** Why a Slurm test cannot run here (a missing program, not root), or null when it can. */
export async function slurmMissing(): Promise<string | null> {
  for (const p of DAEMONS) {
    const r = await new Deno.Command("sh", { args: ["-c", `command -v ${p}`] }).output()
      .catch(() => null);
    if (!r?.success) return `${p} is not installed (apt-get install slurm-wlm munge)`;
  }
  if (Deno.uid() !== 0) return "the one-node Slurm test needs root (SlurmUser=root)";
  return null;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const r = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  if (!r.success) throw new Error(`${cmd} ${args.join(" ")}: exit ${r.code}: ${text(r.stderr)}`);
  return text(r.stdout);
}

export class SlurmCluster {
  readonly env: Record<string, string>;
  private readonly children: Deno.ChildProcess[] = [];
  private constructor(readonly dir: string) {
    this.env = { SLURM_CONF: join(dir, "slurm.conf") };
  }

  /** Starts munged, slurmctld and slurmd in a new temp folder; waits until the node is idle. */
  static async start(): Promise<SlurmCluster> {
    // Its own folder under /tmp, 0755: munged (user munge) must reach its files through it.
    const c = new SlurmCluster(await Deno.makeTempDir({ prefix: "slurm_" }));
    try {
      await c.#start();
    } catch (e) {
      // The logs live in the folder stop() removes: read them first.
      const logs = await c.logs();
      await c.stop();
      throw new Error(`${(e as Error).message}\n${logs}`);
    }
    return c;
  }

  async #start(): Promise<void> {
    const d = this.dir, m = join(d, "munge");
    await Deno.chmod(d, 0o755);
    for (const sub of ["state", "spool", "log", "munge"]) await Deno.mkdir(join(d, sub));
    const key = crypto.getRandomValues(new Uint8Array(1024));
    await Deno.writeFile(join(m, "munge.key"), key, { mode: 0o400 });
    await run("chown", ["-R", "munge:munge", m]);
    const sock = join(m, "munge.sock");
    this.#spawn("setpriv", [
      "--reuid=munge",
      "--regid=munge",
      "--init-groups",
      "munged",
      "-F",
      `--key-file=${m}/munge.key`,
      `--socket=${sock}`,
      `--pid-file=${m}/munged.pid`,
      `--log-file=${m}/munged.log`, // munged writes only where user munge may
      `--seed-file=${m}/seed`,
    ]);
    await this.#until(async () => (await Deno.stat(sock).catch(() => null)) !== null, "munged");
    const host = Deno.hostname().split(".")[0]; // slurmd finds its NodeName by the short name
    await Deno.writeTextFile(join(d, "plugstack.conf"), "");
    await Deno.writeTextFile(this.env.SLURM_CONF, slurmConf(d, host, sock));
    const conf = ["-D", "-f", this.env.SLURM_CONF];
    this.#spawn("slurmctld", ["-i", ...conf]);
    this.#spawn("slurmd", conf);
    await this.#until(async () => {
      const out = await run("sinfo", ["-h", "-o", "%t"], this.env).catch(() => "");
      return out.trim() === "idle";
    }, "the node to be idle (sinfo)");
  }

  #spawn(cmd: string, args: string[]): void {
    // The daemons log to files under log/ (slurm.conf, --log-file).
    const c = new Deno.Command(cmd, { args, env: this.env, stdout: "null", stderr: "null" });
    this.children.push(c.spawn());
  }

  async #until(ok: () => Promise<boolean>, what: string, seconds = 20): Promise<void> {
    const end = Date.now() + seconds * 1000;
    while (!(await ok())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Runs a Slurm client command (sbatch, squeue, scancel) against this cluster. */
  client(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
    return run(cmd, args, { ...this.env, ...env });
  }

  /** scancel of every job this cluster's controller knows; waits (10 s at most) until none runs. */
  async #cancelAll(): Promise<void> {
    if (this.children.length === 0) return;
    const jobs = async () =>
      (await this.client("squeue", ["-h", "-o", "%A"])).split(/\s+/)
        .filter((j) => j !== "");
    const ids = [...new Set(await jobs())];
    if (ids.length === 0) return;
    await this.client("scancel", ids);
    await this.#until(async () => (await jobs()).length === 0, "the jobs to end (scancel)", 10);
  }

  /** The daemons' logs, for a failure message. */
  async logs(): Promise<string> {
    const out: string[] = [];
    for (const f of ["munge/munged.log", "log/slurmctld.log", "log/slurmd.log"]) {
      const t = await Deno.readTextFile(join(this.dir, f)).catch(() => "");
      out.push(`--- ${f}\n${t.split("\n").slice(-15).join("\n")}`);
    }
    return out.join("\n");
  }

  /**
   * Cancels every job of this cluster (so a failed test leaves no slurmstepd or align process),
   * stops every daemon it started (SIGTERM by pid, then waits; SIGKILL after 10 s) and removes its
   * folder.
   */
  async stop(): Promise<void> {
    await this.#cancelAll().catch(() => {});
    for (const c of this.children.reverse()) {
      try {
        c.kill("SIGTERM");
      } catch { /* already gone */ }
      const t = setTimeout(() => {
        try {
          c.kill("SIGKILL");
        } catch { /* gone */ }
      }, 10_000);
      await c.status;
      clearTimeout(t);
    }
    this.children.length = 0;
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

function slurmConf(d: string, host: string, sock: string): string {
  return [
    "ClusterName=arcstream",
    `SlurmctldHost=${host}(127.0.0.1)`,
    "SlurmUser=root",
    "SlurmdUser=root",
    `SlurmctldPort=${freePort()}`,
    `SlurmdPort=${freePort()}`,
    "AuthType=auth/munge",
    "CredType=cred/munge",
    `AuthInfo=socket=${sock}`,
    `StateSaveLocation=${d}/state`,
    `SlurmdSpoolDir=${d}/spool`,
    `SlurmctldPidFile=${d}/slurmctld.pid`,
    `SlurmdPidFile=${d}/slurmd.pid`,
    `SlurmctldLogFile=${d}/log/slurmctld.log`,
    `SlurmdLogFile=${d}/log/slurmd.log`,
    `PlugStackConfig=${d}/plugstack.conf`,
    "ProctrackType=proctrack/linuxproc",
    "TaskPlugin=task/none",
    "JobAcctGatherType=jobacct_gather/none",
    "AccountingStorageType=accounting_storage/none",
    "JobCompType=jobcomp/none",
    "SchedulerType=sched/builtin",
    "SelectType=select/cons_tres",
    "SelectTypeParameters=CR_CPU",
    // 4 CPUs on any machine, so the 4 array tasks run at once (config values over the probe).
    "SlurmdParameters=config_overrides",
    "ReturnToService=2",
    "MailProg=/bin/true",
    `NodeName=${host} NodeAddr=127.0.0.1 CPUs=4 State=UNKNOWN`,
    `PartitionName=main Nodes=${host} Default=YES MaxTime=INFINITE State=UP`,
    "",
  ].join("\n");
}
