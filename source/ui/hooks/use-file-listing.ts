import {useCallback, useEffect, useState} from 'react';
import type {Restores} from '../../service/ports.js';
import {useLoader} from './use-inventory.js';

/**
 * The files screen's folder in a backup point and its listing; `where` is null for the point's
 * filesystems (one of them is entered at once when it is the only one).
 */
export function useFileListing(service: Restores, vm: string, point: string) {
	const [where, setWhere] = useState<string | null>('/');
	const load = useCallback(
		() => service.listFiles(vm, {point, ...(where === null ? {} : {path: where}), command: `snapdeck ui: files ${vm}`}),
		[service, vm, point, where],
	);
	const listing = useLoader(load);
	// A point with several filesystems: '/' alone does not say which; show them to choose from.
	useEffect(() => {
		if (where === '/' && listing.error?.includes('filesystems: say which')) setWhere(null);
	}, [where, listing.error]);
	return {where, setWhere, listing};
}
