#!/usr/bin/env node
// Writes test/durations.json (seconds per test file, which the test sequencer runs longest first)
// from a vitest JSON report: node scripts/durations.mjs REPORT.json
import {readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';

const report = JSON.parse(readFileSync(process.argv[2] ?? 'durations-report.json', 'utf8'));
const seconds = Object.fromEntries(
	report.testResults
		.map(file => [path.relative(process.cwd(), file.name), Math.round((file.endTime - file.startTime) / 100) / 10])
		.sort((a, b) => b[1] - a[1]),
);
writeFileSync('test/durations.json', `${JSON.stringify(seconds, null, '\t')}\n`);
const total = Object.values(seconds).reduce((sum, value) => sum + value, 0);
process.stdout.write(`test/durations.json: ${Object.keys(seconds).length} files, ${Math.round(total)} s in all\n`);
