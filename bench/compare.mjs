#!/usr/bin/env node
// Side-by-side table from JSON-line records (ours and the peers', same schema):
//   node bench/compare.mjs results.jsonl [more.jsonl ...] > table.md
// One row per (env, op, shape, threads); columns: wasmnn per build, each peer, and for each
// wasmnn build the ratio to the faster peer (> 1 means wasmnn is faster). Rates are GFLOP/s
// (int8: GOP/s) or GB/s, from the median time of each record; whole models (op model) have no
// FLOP count: their rate is calls/s (1000 / median ms), and int8-weight runs get their own column.
import fs from 'node:fs';

const args = process.argv.slice(2);
const htmlAt = args.indexOf('--html');
const htmlOut = htmlAt >= 0 ? args.splice(htmlAt, 2)[1] : null;
const files = args;
if (!files.length || (htmlAt >= 0 && !htmlOut)) {
  console.error('usage: node bench/compare.mjs FILE.jsonl [FILE.jsonl ...] [--html REPORT.html]');
  process.exit(2);
}
const records = files.flatMap((f) => fs.readFileSync(f, 'utf8').split('\n'))
  .filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
  .filter((r) => r.median_ms != null && r.op !== 'overhead');

const col = (r) => (r.peer === 'wasmnn' ? `wasmnn ${r.build}${r.weights === 'int8' ? ' int8' : ''}` : r.peer);
const rate = (r) => r.gflops ?? r.gbps ?? (r.op === 'model' ? 1000 / r.median_ms : null);
const unit = (op) => (op === 'softmax' || op === 'layernorm' ? 'GB/s' : op.startsWith('int8') ? 'GOP/s'
  : op === 'model' ? 'calls/s' : 'GFLOP/s');
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

// ---- Optional HTML report: per environment, one group of horizontal bars per case (rate of each
// column, wasmnn builds first), as inline SVG: no scripts, no dependencies.
if (htmlOut) {
  const esc = (t) => String(t).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
  const colour = (c) => (c.startsWith('wasmnn') ? (c.endsWith('relaxed') ? '#1b7f3b' : '#4caf50') : c === 'ort-web' ? '#5470c6' : '#ee8f2d');
  const parts = [];
  for (const env of [...new Set(records.map((r) => r.env))]) {
    const cases = [...rows].filter(([k]) => k.startsWith(`${env}|`));
    const barH = 14, gap = 10, labelW = 300, plotW = 520;
    const height = cases.reduce((h, [, cell]) => h + Object.keys(cell).length * barH + gap, 30);
    let y = 24;
    const svg = [];
    for (const [k, cell] of cases) {
      const [, threads, op, shape] = k.split('|');
      const entries = cols.filter((c) => cell[c]).map((c) => [c, cell[c]]);
      const max = Math.max(...entries.map(([, r]) => rate(r) ?? 0), 1e-9);
      svg.push(`<text x="0" y="${y + barH - 3}" font-size="12">${esc(`${op} ${shape} (t${threads})`)}</text>`);
      for (const [c, r] of entries) {
        const w = ((rate(r) ?? 0) / max) * plotW;
        svg.push(`<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH - 2}" fill="${colour(c)}"/>`,
          `<text x="${labelW + w + 4}" y="${y + barH - 3}" font-size="11">${esc(`${c}: ${(rate(r) ?? 0).toFixed(1)} ${unit(op)}, ${r.median_ms.toPrecision(3)} ms`)}</text>`);
        y += barH;
      }
      y += gap;
    }
    parts.push(`<h2>${esc(env)}</h2><svg xmlns="http://www.w3.org/2000/svg" width="${labelW + plotW + 260}" height="${height}" font-family="sans-serif">${svg.join('')}</svg>`);
  }
  const legend = cols.map((c) => `<span style="color:${colour(c)}">&#9632;</span> ${esc(c)}`).join(' &nbsp; ');
  fs.writeFileSync(htmlOut, `<!doctype html><meta charset="utf-8"><title>wasmnn vs peers</title>
<body style="font-family:sans-serif"><h1>wasmnn vs peers</h1><p>Longer bar = faster (rate at the median time of each record). ${legend}</p>
<p>Sources: ${files.map(esc).join(', ')}</p>${parts.join('\n')}</body>\n`);
  console.error(`compare: wrote ${htmlOut}`);
}
