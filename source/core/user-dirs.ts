/**
 * snapdeck's own folders in the user's home, as the XDG base directory spec places them (what the
 * env-paths package gave on Linux): data (the demo lab, backups, the journal), config, cache.
 * Computed from the environment and home folder passed at each call. Never from values taken when
 * a module loads: commands start from a startup snapshot made at build time, and a home folder
 * read then would be the builder's for every user and every HOME afterwards.
 */
export type UserDirKind = 'data' | 'config' | 'cache';

const XDG: Record<UserDirKind, {variable: string; fallback: string}> = {
	data: {variable: 'XDG_DATA_HOME', fallback: '.local/share'},
	config: {variable: 'XDG_CONFIG_HOME', fallback: '.config'},
	cache: {variable: 'XDG_CACHE_HOME', fallback: '.cache'},
};

/** The folder, e.g. userDir('data', process.env, os.homedir()): ~/.local/share/snapdeck. */
export function userDir(kind: UserDirKind, env: Readonly<Record<string, string | undefined>>, home: string): string {
	const {variable, fallback} = XDG[kind];
	const base = env[variable] || `${home.replace(/\/+$/, '')}/${fallback}`;
	return `${base.replace(/\/+$/, '')}/snapdeck`;
}
