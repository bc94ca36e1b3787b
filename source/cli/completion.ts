import {NAME_PATTERN} from '../core/names.js';
import type {Command} from './command.js';
import {FLAGS, GLOBAL_FLAGS, type FlagName} from './flags.js';

/** A bash word list, single-quoted (every word here is ours: commands, flags, subcommands). */
const words = (list: readonly string[]) => `'${list.join(' ')}'`;

/** Flags whose value is a file or a folder: bash completes paths after them. */
const PATH_VALUES = new Set(['DIR', 'FILE', 'PATH', 'PUBLIC']);

/**
 * The bash completion script, made from the command registry: command names, each command's own
 * options and the global ones, the words a command's first argument may be (config show, ...),
 * paths after an option that takes one, and VM names from `snapdeck list --json` on the
 * connection the line names. Those names come from the connection (a VM folder, a libvirt domain),
 * not from us: they never pass through compgen -W (which expands $(...) and `...` in its word
 * list), and only names snapdeck accepts (core/names.ts) are offered.
 */
export function bashCompletion(commands: readonly Command[]): string {
	const flagsOf = (command: Command) => words([...GLOBAL_FLAGS, ...command.flags].map(flag => `--${flag}`));
	const valued = (Object.keys(FLAGS) as FlagName[]).filter(name => FLAGS[name].type === 'string');
	const paths = valued.filter(name => PATH_VALUES.has((FLAGS[name] as {value?: string}).value ?? ''));
	return `# bash completion for snapdeck, made by 'snapdeck completion bash'.
# Load it now:   source <(snapdeck completion bash)
# For good:      snapdeck completion bash > /etc/bash_completion.d/snapdeck
_snapdeck() {
	local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} command="" position=0 i word connect=()
	for ((i = 1; i < COMP_CWORD; i++)); do
		word=\${COMP_WORDS[i]}
		case $word in
		--connect) connect+=(--connect "\${COMP_WORDS[i+1]}"); i=$((i + 1)) ;;
		${valued.filter(name => name !== 'connect').map(name => `--${name}`).join('|')}) i=$((i + 1)) ;;
		-*) ;;
		*) if [ -z "$command" ]; then command=$word; else position=$((position + 1)); fi ;;
		esac
	done
	case $prev in
	${paths.map(name => `--${name}`).join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	${valued.filter(name => !paths.includes(name)).map(name => `--${name}`).join('|')}) COMPREPLY=(); return ;;
	esac
	if [ -z "$command" ]; then
		COMPREPLY=($(compgen -W ${words([...commands.map(command => command.name), 'help'])} -- "$cur"))
		return
	fi
	if [[ $cur == -* ]]; then
		case $command in
${commands.map(command => `		${command.name}) COMPREPLY=($(compgen -W ${flagsOf(command)} -- "$cur")) ;;`).join('\n')}
		esac
		return
	fi
	case $command in
${commands.filter(command => command.words).map(command => `	${command.name}) [ $position -eq 0 ] && COMPREPLY=($(compgen -W ${words(command.words!)} -- "$cur")) && return ;;`).join('\n')}
	help) COMPREPLY=($(compgen -W ${words(commands.map(command => command.name))} -- "$cur")); return ;;
	esac
	if [ $position -eq 0 ]; then
		COMPREPLY=()
		while IFS= read -r word; do
			[[ $word =~ ${NAME_PATTERN.source} && $word == "$cur"* ]] && COMPREPLY+=("$word")
		done < <(snapdeck list --json "\${connect[@]}" 2>/dev/null | grep -o '"name":"[^"]*"' | cut -d'"' -f4)
	fi
}
complete -o default -F _snapdeck snapdeck
`;
}
