import {Text as InkText, type TextProps} from 'ink';
import {Children} from 'react';
import {safeText} from '../../core/terminal-text.js';

/**
 * The UI's one Text: every string it is given goes through safeText() on its way to the screen, so
 * text from outside (VM and snapshot names, descriptions, errors and hints, file names, journal
 * records, findings) shows its control characters visibly and never reaches the terminal as itself.
 * Nested Texts are this one too. Ink's own Text is not imported anywhere else (eslint.config.js).
 */
export function Text({children, ...props}: TextProps) {
	return (
		<InkText {...props}>
			{Children.map(children, child => (typeof child === 'string' ? safeText(child) : child))}
		</InkText>
	);
}
