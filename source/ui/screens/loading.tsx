import {Box} from 'ink';
import {Text} from '../components/text.js';
import type {ReactNode} from 'react';
import type {Loaded} from '../hooks/use-inventory.js';
import {useTheme} from '../theme.js';

/** A screen's body: its error, or "loading …" until the first answer, else what `children` draws (kept while a refresh runs). */
export function Loading({
	loaded,
	what,
	height,
	visible,
	children,
}: {
	loaded: Loaded<unknown>;
	what: string;
	height: number;
	visible: boolean;
	children: () => ReactNode;
}) {
	const theme = useTheme();
	return (
		<Box flexDirection="column" height={height} display={visible ? 'flex' : 'none'}>
			{loaded.error ? (
				<Text color={theme.error}>{loaded.error}</Text>
			) : loaded.data === null ? (
				<Text color={theme.muted}>loading {what}…</Text>
			) : (
				children()
			)}
		</Box>
	);
}
