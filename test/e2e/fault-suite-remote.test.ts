import {killAtEveryStep, SUITE_PARTS} from '../helpers/fault-suite.js';

/** The fault suite, part two (run beside part one): off-site targets and boot tests (test/helpers/fault-suite.ts). */
killAtEveryStep(SUITE_PARTS.remote);
