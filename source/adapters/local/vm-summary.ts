import path from 'node:path';
import {consistencyProblems} from '../../core/consistency.js';
import {errorMessage} from '../../core/errors.js';
import {derivedUuid} from '../../core/identity.js';
import type {VmSummary} from '../../core/model.js';
import {fileExists, liesOutside} from '../file-checks.js';
import {localHost} from '../host.js';
import {headerChain} from '../qemu/qcow2-header.js';
import type {LocalLab} from './lab.js';
import {socketAnswers} from './qemu-process.js';
import {readVmFile} from './vm-file.js';

/**
 * One inventory row from vm.json and the images' qcow2 headers (microseconds each, where a
 * `qemu-img info` costs milliseconds): chains, sizes, missing files. What only qemu-img can tell
 * (internal snapshot tables, bitmaps, corruption) is for LocalHypervisor.inspect(), the tree and health.
 */
export async function vmSummary(lab: LocalLab, name: string): Promise<VmSummary> {
	try {
		const folder = await lab.folderOf(name);
		const file = await readVmFile(folder);
		const relative = (image: string) => path.relative(folder, image);
		/** Images named in vm.json or a header must stay inside the VM's folder. */
		const outside = (image: string) => liesOutside(folder, image);
		const qmp = file.qmp === null ? null : path.resolve(folder, file.qmp);
		const [run, disks] = await Promise.all([
			qmp !== null
				? socketAnswers(qmp).then(up => (up ? ('running' as const) : ('stopped' as const)))
				: Promise.resolve('stopped' as const),
			Promise.all(
				file.disks.map(async disk => ({
					disk,
					...(outside(disk.file)
						? {chain: [], virtualSize: 0, problem: `${disk.file} lies outside the VM's folder`}
						: await headerChain(
								path.resolve(folder, disk.file),
								folder,
								file.instant ? [file.instant.repository] : [],
							)),
				})),
			),
		]);
		const problems = [
			...consistencyProblems(file),
			...disks.flatMap(({problem}) => (problem ? [problem.replaceAll(`${folder}/`, '')] : [])),
		];
		for (const snapshot of file.snapshots) {
			for (const {file: image} of snapshot.disks) {
				if (outside(image))
					problems.push(`${image} (an image of snapshot '${snapshot.name}') lies outside the VM's folder`);
				else if (!(await fileExists(path.resolve(folder, image))))
					problems.push(`${image} (an image of snapshot '${snapshot.name}') is missing`);
			}
		}
		const host = await localHost.identity();
		return {
			name,
			state: run,
			current: file.current,
			snapshots: file.snapshots.length,
			identity: {...host, uuid: file.uuid ?? derivedUuid(host.host, folder)},
			chainDepth: Math.max(0, ...disks.map(({chain}) => chain.length)),
			disks: disks.map(({disk, virtualSize, chain}) => ({
				target: disk.target,
				file: disk.file,
				virtualSize,
				chain: chain.map(relative),
			})),
			error: problems.length > 0 ? [...new Set(problems)].join('; ') : null,
		};
	} catch (error) {
		return {name, state: 'unknown', current: null, snapshots: 0, chainDepth: 0, disks: [], error: errorMessage(error)};
	}
}
