import {runMain} from './main.js';

// The bundle's entry (bin/snapdeck.js). bin/snapdeck starts most commands from the startup
// snapshot instead (snapshot-entry.ts), which runs the same main.
await runMain();
