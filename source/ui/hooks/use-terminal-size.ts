import {useStdout} from 'ink';
import {useEffect, useState} from 'react';

/** Columns and rows, following resizes; 80x24 where the stream does not say. */
export function useTerminalSize() {
	const {stdout} = useStdout();
	const read = () => ({columns: stdout.columns || 80, rows: stdout.rows || 24});
	const [size, setSize] = useState(read);
	useEffect(() => {
		const onResize = () => setSize(read());
		stdout.on('resize', onResize);
		return () => {
			stdout.off('resize', onResize);
		};
	}, [stdout]);
	return size;
}
