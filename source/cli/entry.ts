import {main} from './main.js';

// The bundle's entry (bin/snapdeck.js). bin/snapdeck starts most commands from the startup
// snapshot instead (snapshot-entry.ts), which runs the same main.

// Once an SSH session drops, writing to its terminal fails (EIO, EPIPE); what was running must still
// stop cleanly (SIGHUP cancels it), not die of an unhandled stream error halfway.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
process.exitCode = await main(process.argv.slice(2));
