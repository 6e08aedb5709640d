/**
 * Real servers for the data-service tests: loopback only, one temporary folder,
 * every process started in its own process group and killed (by that group's id)
 * when the test ends, also on failure.
 */
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";

const SEARCH_PATH = `${process.env.PATH ?? ""}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;

export function findTool(name: string): string | undefined {
  for (const dir of SEARCH_PATH.split(":")) {
    if (dir !== "" && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/**
 * True when every tool is there. Missing tools fail the test under CI=true and
 * skip it visibly elsewhere.
 */
export function haveTools(t: TestContext, tools: readonly string[]): boolean {
  const missing = tools.filter((tool) => !findTool(tool));
  if (missing.length === 0) return true;
  const reason = `needs ${missing.join(", ")} (Debian packages, installed by .ci/run)`;
  if (process.env.CI === "true") throw new Error(`CI: ${reason}`);
  t.skip(reason);
  return false;
}

/** An error waitFor does not retry: the thing waited for can no longer happen. */
export class Fatal extends Error {}

interface Started {
  readonly child: ChildProcess;
  readonly log: string;
  exited: boolean;
}

export class ProcessSet {
  readonly dir: string;
  private readonly procs = new Map<string, Started>();

  constructor(prefix: string) {
    this.dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  }

  /** Starts a process in its own process group; output goes to <dir>/<name>.log. */
  start(name: string, command: string, args: readonly string[], env: Record<string, string>): ChildProcess {
    const previous = this.procs.get(name);
    if (previous && !previous.exited) throw new Error(`${name} is still running`);
    const log = join(this.dir, `${name}.log`);
    const fd = openSync(log, "a");
    const child = spawn(command, [...args], {
      env: { PATH: SEARCH_PATH, HOME: this.dir, LANG: "C.UTF-8", ...env },
      stdio: ["ignore", fd, fd],
      detached: true,
      cwd: this.dir,
    });
    closeSync(fd);
    const started: Started = { child, log, exited: false };
    child.on("exit", () => {
      started.exited = true;
    });
    this.procs.set(name, started);
    return child;
  }

  running(name: string): boolean {
    const p = this.procs.get(name);
    return p !== undefined && !p.exited;
  }

  /** Throws Fatal (stops a waitFor) when one of these processes has exited. */
  mustRun(...names: string[]): void {
    const gone = names.filter((n) => !this.running(n));
    if (gone.length > 0) throw new Fatal(`exited: ${gone.join(", ")}\n${gone.map((n) => `--- ${n}\n${this.logTail(n)}`).join("\n")}`);
  }

  /** Signals the process group of one process and waits for it to exit. */
  async kill(name: string, signal: NodeJS.Signals = "SIGKILL", timeoutMs = 10_000): Promise<void> {
    const p = this.procs.get(name);
    if (!p || p.exited || p.child.pid === undefined) return;
    const exited = new Promise<void>((ok) => p.child.once("exit", () => ok()));
    try {
      process.kill(-p.child.pid, signal);
    } catch {
      return;
    }
    await Promise.race([exited, new Promise((ok) => setTimeout(ok, timeoutMs))]);
    if (!p.exited) {
      try {
        process.kill(-p.child.pid, "SIGKILL");
      } catch {
        // already gone
      }
      await exited;
    }
  }

  /** Process ids of the processes still running (an exec'd program keeps its shell's pid). */
  pids(): number[] {
    return [...this.procs.values()].filter((p) => !p.exited && p.child.pid !== undefined).map((p) => p.child.pid as number);
  }

  logTail(name: string, lines = 30): string {
    const p = this.procs.get(name);
    if (!p || !existsSync(p.log)) return `(no log for ${name})`;
    return readFileSync(p.log, "utf8").split("\n").slice(-lines).join("\n");
  }

  allLogs(lines = 15): string {
    return [...this.procs.keys()].map((n) => `--- ${n}\n${this.logTail(n, lines)}`).join("\n");
  }

  /** Kills every process group still running, then removes the folder. */
  async cleanup(): Promise<void> {
    await Promise.all([...this.procs.keys()].map((n) => this.kill(n, "SIGTERM", 5_000)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function run(command: string, args: readonly string[], env: Record<string, string> = {}, timeoutMs = 10_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, [...args], { env: { PATH: SEARCH_PATH, LANG: "C.UTF-8", ...env }, timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Polls until check returns a value (not undefined), or fails with what it last saw. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 200, diagnostics?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (e) {
      if (e instanceof Fatal) throw e;
      lastError = e;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}${diagnostics ? `\n${diagnostics()}` : ""}`);
    }
    await new Promise((ok) => setTimeout(ok, intervalMs));
  }
}
