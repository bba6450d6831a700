// The machine a run measured, for the report: fio's JSON does not say (it has no such key), so the
// bench adds it under a key of its own, "ioengine host", next to fio's.
import os from 'node:os';

export interface Host {
  /** `Linux 6.1.0-18-amd64` */
  kernel: string;
  /** logical CPUs online */
  cpus: number;
  cpu_model: string;
  arch: string;
  /** bytes of RAM: what the page cache can hold decides what a cached workload measures */
  memory: number;
  /** `v20.20.2` */
  node: string;
  /** when the run started, ISO 8601 */
  date: string;
}

export function hostInfo(startedAt: Date): Host {
  const cpus = os.cpus();
  return {
    kernel: `${os.type()} ${os.release()}`,
    cpus: cpus.length,
    cpu_model: cpus[0]?.model.trim() || 'unknown',
    arch: os.arch(),
    memory: os.totalmem(),
    node: process.version,
    date: startedAt.toISOString(),
  };
}
