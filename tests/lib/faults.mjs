// faults.mjs: faults injected into a running stack (tests/lib/stack.mjs):
// the `tollgate serve` process found, killed and waited for, and its
// resident memory read.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The pids of the stack's `tollgate serve` (the one deploy/run.sh started
// on <dir>/run/tollgate.sock); [] when none runs.
export function servePids(stack) {
  try {
    return execFileSync('pgrep', ['-f', `${stack.dir}/run/tollgate.sock`], { encoding: 'utf8' })
      .trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

// Whether GET /v1/health answers 200 through nginx.
async function healthy(stack) {
  try {
    const r = await fetch(`${stack.base}/v1/health`);
    await r.arrayBuffer();
    return r.status === 200;
  } catch {
    return false;
  }
}

// SIGKILLs serve process pid and waits (up to 10 s) until the supervisor
// has started another that answers; resolves to the new pid.
export async function killServe(stack, pid) {
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 400; i++) {
    const now = servePids(stack).filter((p) => p !== pid);
    if (now.length === 1 && await healthy(stack)) return now[0];
    await sleep(25);
  }
  throw new Error(`tollgate serve was not restarted after kill -9 of ${pid}:\n${stack.log().slice(-2000)}`);
}

// Resident set size of a process, in KiB (VmRSS of /proc/<pid>/status).
export function rssKiB(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
  return m ? Number(m[1]) : NaN;
}
