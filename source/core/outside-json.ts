import type {z} from 'zod';

/**
 * JSON from outside (a receipt someone sent, a configuration file), judged without quoting it:
 * JSON.parse's words quote the text's first bytes and zod's name the keys it does not know, and
 * such a file may hold secrets (a password, a token) or terminal escapes. What is wrong is said in
 * the schema's words and the file is named by whoever reports it.
 */
export function checkOutsideJson<T>(
	text: string,
	schema: z.ZodType<T>,
	noun: string,
	refuse: (why: string) => Error,
): T {
	let json: unknown;
	try {
		json = JSON.parse(text);
	} catch {
		throw refuse('it is not JSON');
	}
	const parsed = schema.safeParse(json);
	if (!parsed.success) throw refuse(shapeProblem(parsed.error, noun));
	return parsed.data;
}

/** Where a value fails a schema, in the schema's words: a key the schema does not know is not named (its name is the file's). */
export function shapeProblem(error: z.ZodError, noun: string): string {
	const issue = error.issues[0]!;
	const at = issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
	return issue.code === 'unrecognized_keys'
		? `it has a field ${noun} does not have${at}`
		: `${issue.message.replace(/^Invalid input: /, '')}${at}`;
}
