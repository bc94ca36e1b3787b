import {createContext, useContext} from 'react';

/** Colours by role; with NO_COLOR every role is undefined and Ink prints plain text. */
export interface Theme {
	readonly accent: string | undefined;
	readonly ok: string | undefined;
	readonly warn: string | undefined;
	readonly error: string | undefined;
	readonly muted: string | undefined;
}

export const themeFor = (noColor: boolean): Theme =>
	noColor
		? {accent: undefined, ok: undefined, warn: undefined, error: undefined, muted: undefined}
		: {accent: 'cyan', ok: 'green', warn: 'yellow', error: 'red', muted: 'gray'};

/** NO_COLOR (https://no-color.org): present and not empty. */
export const noColorRequested = (env: NodeJS.ProcessEnv = process.env) => (env['NO_COLOR'] ?? '') !== '';

export const ThemeContext = createContext<Theme>(themeFor(false));
export const useTheme = () => useContext(ThemeContext);
