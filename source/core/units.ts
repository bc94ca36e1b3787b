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
