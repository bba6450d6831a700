// `ioengine engines | bench | report`.
import { Command } from 'commander';
import { bench, benchHelp } from './bench/index.js';
import { engines } from './index.js';
import { report, reportOfRun } from './report/index.js';

const program = new Command('ioengine')
  .description('One async file API over every I/O strategy, and a benchmark that compares them.')
  .showSuggestionAfterError(true);

program
  .command('engines')
  .description('list every engine, whether it can run here, and why not')
  .option('--json', 'print JSON')
  .action((opts: { json?: boolean }) => {
    const list = engines();
    if (opts.json) return console.log(JSON.stringify(list, null, 2));
    const width = Math.max(...list.map(e => e.name.length));
    for (const e of list) console.log(`${e.name.padEnd(width)}  ${e.available ? 'available' : `unavailable: ${e.reason}`}`);
    const on = list.find(e => e.auto);
    if (on) console.log(`\nauto runs on ${on.name}:\n${on.auto!.map(c => `  ${c.operations}: ${c.way}\n    (${c.why})`).join('\n')}`);
  });

program
  .command('bench')
  .description('a fio-compatible benchmark that compares the engines (no arguments: the default comparison)')
  .usage('[fio options] [job files]')
  .argument('[args...]', 'fio options (--name=value) and job files')
  .allowUnknownOption()
  .addHelpText('after', benchHelp())
  .action(async (_args: string[], _opts: unknown, command: Command) => {
    process.exitCode = await bench(command.args, { stdout: process.stdout, stderr: process.stderr, report: reportOfRun });
  });

program
  .command('report')
  .description('one self-contained HTML page (charts, rankings, the machine) from bench results')
  .argument('<results...>', 'JSON files written by ioengine bench --output-format=json --output=results.json')
  .requiredOption('-o, --output <file>', 'the HTML file to write')
  .addHelpText('after', [
    '',
    'Examples:',
    '  ioengine bench --output-format=json --output=results.json',
    '  ioengine report results.json -o report.html',
    '  ioengine bench --name=qd --filename=/tmp/qd.dat --size=256m --rw=randread --iodepth=1,4,16,32 --ioengine=sync,io_uring --runtime=2 --time_based --report=report.html',
  ].join('\n'))
  .action((files: string[], opts: { output: string }) => {
    process.exitCode = report(files, opts.output);
  });

await program.parseAsync(process.argv);
