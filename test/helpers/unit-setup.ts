import {rmSync} from 'node:fs';
import {UNIT_PATH} from '../../vitest.config.js';
import {buildBundle, cleanUp} from './build.js';
import {strippedPath} from './unit-path.js';

/**
 * The unit tier's global setup: its workers' PATH (vitest.config.ts sets `env.PATH` to UNIT_PATH)
 * is a folder of links to everything on the caller's PATH but QEMU, libvirt, restic, rclone and
 * libguestfs, so a unit test cannot reach them (test/unit-tier.test.ts checks it). A few unit tests
 * run bin/snapdeck (a typo's suggestion, the README's command list), so the bundle is built too.
 */
export default function setup() {
	buildBundle();
	strippedPath(UNIT_PATH);
	return () => {
		rmSync(UNIT_PATH, {recursive: true, force: true});
		cleanUp();
	};
}
