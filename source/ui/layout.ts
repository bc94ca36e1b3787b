import {safeText} from '../core/terminal-text.js';

/** Fits text into `width` columns, marking a cut with '…'. */
export function fit(text: string, width: number): string {
	if (width <= 0) return '';
	// Measured as it will be shown: a control character takes the columns of its visible escape.
	const safe = safeText(text);
	const chars = [...safe];
	return chars.length <= width
		? safe + ' '.repeat(width - chars.length)
		: `${chars.slice(0, Math.max(0, width - 1)).join('')}…`;
}

/** The first row to show so that `selected` is visible in `height` rows: only these rows are rendered. */
export function windowStart(count: number, selected: number, height: number): number {
	if (count <= height) return 0;
	return Math.max(0, Math.min(selected - Math.floor(height / 2), count - height));
}

/**
 * Word-wraps `text` into lines of at most `width` columns without losing a character: a word
 * longer than a line (a long path) is broken where the line ends. Lines after the first start with
 * `indent` spaces.
 */
export function wrapWhole(text: string, width: number, indent = 2): string[] {
	const room = Math.max(1, width);
	const pad = ' '.repeat(Math.min(indent, Math.max(0, room - 1)));
	const lines: string[] = [];
	let line = '';
	const push = () => {
		lines.push(line);
		line = pad;
	};
	for (const word of safeText(text).split(' ')) {
		let chars = [...word];
		const spacer = line.trim() === '' ? '' : ' ';
		if ([...line].length + spacer.length + chars.length <= room) {
			line += spacer + word;
			continue;
		}
		if (line.trim() !== '') push();
		while ([...line].length + chars.length > room) {
			const take = room - [...line].length;
			line += chars.slice(0, take).join('');
			chars = chars.slice(take);
			push();
		}
		line += chars.join('');
	}
	if (line.trim() !== '' || lines.length === 0) lines.push(line);
	return lines;
}

/** Word-wraps `text` into at most `maxLines` lines of `width` columns, marking a cut with '…'. */
export function wrapLines(text: string, width: number, maxLines: number): string[] {
	const lines: string[] = [];
	let line = '';
	// Line breaks and tabs in a message are spaces between words here; the rest is shown escaped.
	for (const word of text
		.split(/\s+/)
		.filter(Boolean)
		.map(part => safeText(part))) {
		const candidate = line ? `${line} ${word}` : word;
		if ([...candidate].length <= width) {
			line = candidate;
			continue;
		}
		if (line) lines.push(line);
		line = [...word].length > width ? fit(word, width) : word;
	}
	if (line) lines.push(line);
	return lines.length > maxLines
		? [...lines.slice(0, maxLines - 1), fit(lines.slice(maxLines - 1).join(' '), width).replace(/.$/u, '…')]
		: lines;
}
