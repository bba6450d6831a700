// What `ioengine bench` runs with no job: a short comparison that makes the tradeoffs visible.
// Six workloads, each on every available engine for 0.8 s (0.1 s ramp, 0.7 s measured): cached
// random reads deep and shallow (batching against per-operation overhead), cached large
// sequential reads (bandwidth, copies), buffered random writes (the page cache's write path),
// and two that wait for the device, where a blocking engine stands the event loop still for
// the device's latency: direct (O_DIRECT) random reads and writes each followed by an fsync.
import os from 'node:os';
import path from 'node:path';

export const DEFAULT_RUN_FILE = () => path.join(os.tmpdir(), `ioengine-bench-${process.pid}.dat`);

/** As a job file, so the default run goes through the same parser as the user's own. */
export const DEFAULT_RUN_JOBS = `
[global]
size=256m
runtime=700ms
time_based
ramp_time=100ms
invalidate=0
ioengine=all

[4k-randread-qd32]
description=cached 4 KiB random reads, 32 in flight
rw=randread
bs=4k
iodepth=32

[4k-randread-qd1]
description=cached 4 KiB random reads, one at a time
stonewall
rw=randread
bs=4k
iodepth=1

[128k-read-qd8]
description=cached 128 KiB sequential reads, 8 in flight
stonewall
rw=read
bs=128k
iodepth=8

[4k-randwrite-qd32]
description=buffered 4 KiB random writes, 32 in flight
stonewall
rw=randwrite
bs=4k
iodepth=32

[4k-randread-direct-qd32]
description=uncached 4 KiB random reads from the device (O_DIRECT), 32 in flight
stonewall
rw=randread
bs=4k
iodepth=32
direct=1

[4k-randwrite-fsync-qd8]
description=4 KiB random writes, each followed by an fsync, 8 in flight
stonewall
rw=randwrite
bs=4k
iodepth=8
fsync=1
`;

/** Options the default workloads set themselves: refused on the command line of the default run. */
export const DEFAULT_RUN_FIXED = ['name', 'rw', 'rwmixread', 'rwmixwrite', 'bs', 'iodepth', 'stonewall', 'description'];
