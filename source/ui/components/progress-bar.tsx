import {Text} from './text.js';
import {useTheme} from '../theme.js';

/** A bar of `width` cells; full cells only, so one update changes few bytes. */
export function ProgressBar({fraction, width}: {fraction: number; width: number}) {
	const theme = useTheme();
	const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
	return (
		<Text>
			<Text color={theme.accent}>{'█'.repeat(filled)}</Text>
			<Text color={theme.muted}>{'░'.repeat(width - filled)}</Text>
		</Text>
	);
}
