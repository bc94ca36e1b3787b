const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 -> "1.5 KiB": binary units, as qemu-img prints them. */
export function formatBytes(bytes: number): string {
	let value = Math.abs(bytes);
	let unit = 0;
	while (value >= 1024 && unit < UNITS.length - 1) {
		value /= 1024;
		unit++;
	}
	const text = unit === 0 || value >= 100 ? value.toFixed(0) : value.toFixed(1);
	return `${bytes < 0 ? '-' : ''}${text} ${UNITS[unit]}`;
}

const DURATION_UNITS: Record<string, number> = {m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000};

/** A duration as people write one in a config file, "90m", "26h", "7d", "2w", in milliseconds; null when it is not one. */
export function parseDuration(text: string): number | null {
	const match = /^(\d+)([mhdw])$/.exec(text.trim());
	return match ? Number(match[1]) * DURATION_UNITS[match[2]!]! : null;
}

/** Milliseconds as the largest whole unit that fits: "3d", "5h", "12m". */
export function formatDuration(ms: number): string {
	const minutes = Math.floor(Math.abs(ms) / 60_000);
	if (minutes < 120) return `${minutes}m`;
	if (minutes < 48 * 60) return `${Math.floor(minutes / 60)}h`;
	return `${Math.floor(minutes / 1440)}d`;
}

/** A wait as an error message names it: "500 ms", "2.5 s", "30 s"; never "0 s" for a wait shorter than a second. */
export function formatWait(ms: number): string {
	if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
	if (ms < 10_000) return `${Number((ms / 1000).toFixed(1))} s`;
	return `${Math.round(ms / 1000)} s`;
}
