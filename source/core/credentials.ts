/*
 * Locations with their user and password masked. Apart from the schemas of notifications.ts and
 * offsite-model.ts (zod): health's rules use them, and the UI's first frame loads health's rules
 * but not zod (scripts/first-frame.mjs).
 */

/**
 * A location as it may be shown: a restic repository (`rest:https://user:password@host/`), a
 * connection URI; the user and password of any `SCHEME://USER:PASSWORD@` in it replaced by ***.
 */
export const maskCredentials = (text: string) => text.replace(/(:\/\/)[^/@\s]*@/g, '$1***@');

/**
 * Whether a record is of the target whose restic repository string is `repository`. Records keep
 * the string with any user and password masked (the repository's state is no place for a
 * target's credentials); older ones kept it whole.
 */
export const isRecordOf = (repository: string) => (record: {readonly repository?: string | undefined}) =>
	record.repository === repository || record.repository === maskCredentials(repository);
