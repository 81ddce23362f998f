#!/usr/bin/env node
// Side-by-side table from JSON-line records (ours and the peers', same schema):
//   node bench/compare.mjs results.jsonl [more.jsonl ...] > table.md
// One row per (env, op, shape, threads); columns: wasmnn per build, each peer, and for each
// wasmnn build the ratio to the faster peer (> 1 means wasmnn is faster). Rates are GFLOP/s
// (int8: GOP/s) or GB/s, from the median time of each record.
import fs from 'node:fs';

const files = process.argv.slice(2);
if (!files.length) {
  console.error('usage: node bench/compare.mjs FILE.jsonl [FILE.jsonl ...]');
  process.exit(2);
}
const records = files.flatMap((f) => fs.readFileSync(f, 'utf8').split('\n'))
  .filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
  .filter((r) => r.median_ms != null && r.op !== 'overhead');

const col = (r) => (r.peer === 'wasmnn' ? `wasmnn ${r.build}` : r.peer);
const rate = (r) => (r.gflops != null ? r.gflops : r.gbps);
const unit = (op) => (op === 'softmax' || op === 'layernorm' ? 'GB/s' : op.startsWith('int8') ? 'GOP/s' : 'GFLOP/s');
const cols = [...new Set(records.map(col))].sort((a, b) => (a.startsWith('wasmnn') ? -1 : 1) - (b.startsWith('wasmnn') ? -1 : 1) || a.localeCompare(b));
const ourCols = cols.filter((c) => c.startsWith('wasmnn'));
const keyOf = (r) => `${r.env}|${r.threads}|${r.op}|${r.shape}`;
const rows = new Map();
for (const r of records) {
  const k = keyOf(r);
  if (!rows.has(k)) rows.set(k, {});
  const cell = rows.get(k);
  // Keep the faster record when a column was measured twice.
  if (!cell[col(r)] || r.median_ms < cell[col(r)].median_ms) cell[col(r)] = r;
}
const out = [];
for (const env of [...new Set(records.map((r) => r.env))]) {
  out.push(`### ${env}`, '', `| op | shape | threads | ${cols.join(' | ')} | ${ourCols.map((c) => `${c.slice(7)} / faster peer`).join(' | ')} |`,
    `|${'---|'.repeat(cols.length + 3 + ourCols.length)}`);
  for (const [k, cell] of rows) {
    const [e, threads, op, shape] = k.split('|');
    if (e !== env) continue;
    const cells = cols.map((c) => (cell[c] ? `${cell[c].median_ms.toPrecision(3)} ms (${rate(cell[c])?.toFixed(1)})${cell[c].check === 'FAIL' ? ' FAIL' : ''}` : 'n/a'));
    const peers = Object.entries(cell).filter(([c]) => !c.startsWith('wasmnn')).map(([, r]) => r.median_ms);
    const ratios = ourCols.map((c) => (cell[c] && peers.length ? `**${(Math.min(...peers) / cell[c].median_ms).toFixed(2)}x**` : 'n/a'));
    out.push(`| ${op} | ${shape} | ${threads} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`);
  }
  out.push('', `Cells: median ms per call (rate in ${[...new Set(records.filter((r) => r.env === env).map((r) => unit(r.op)))].join(' / ')}).`, '');
}
process.stdout.write(`${out.join('\n')}\n`);
